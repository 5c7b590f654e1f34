"""What a model version has already scored: the sha256 column of its predictions partition.

A re-run skips a file whose sha256 is in this set, so an image is scored once per model
version however often the same archive is submitted (renamed or moved copies included).
"""
from __future__ import annotations

import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems


def model_version_dir(predictions_dir: str, model_version: str) -> str:
    return FileSystems.join(predictions_dir, f"model_version={model_version}")


def read_scored_sha256(predictions_dir: str, model_version: str) -> frozenset[str]:
    """sha256 of every image in ``<predictions_dir>/model_version=<v>/``; empty when there is none yet."""
    folder = model_version_dir(predictions_dir, model_version)
    files = [m.path for m in FileSystems.match([FileSystems.join(folder, "**.parquet")])[0].metadata_list]
    if not files:
        return frozenset()
    table = ds.dataset(files, format="parquet").to_table(columns=["sha256"])
    return frozenset(table.column("sha256").to_pylist())
