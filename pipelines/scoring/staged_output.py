"""Where a run writes, and how its files become visible.

Beam's file sinks write to a temp folder and rename at finalisation, but that temp folder sits
next to the final files and holds complete-looking ``*.parquet`` names, which DuckDB's
``**/*.parquet`` glob would read after a kill. So the job writes its Parquet shards under
``<output>/_staging/<run_id>/`` with a ``.staged`` suffix (outside every dataset folder, never
matching ``*.parquet``), and the launcher publishes them when the job has succeeded: one rename
per file into its Hive partition. A reader sees a file complete or not at all; a run killed
before publishing leaves nothing where readers look, and its re-run scores those images again.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

PREDICTIONS = "predictions"
ERRORS = "errors"
OVERLAYS = "overlays"
STAGING = "_staging"
STAGED_SUFFIX = ".staged"
# Predictions are the only ``*.parquet`` files under the output folder, so the natural query
# ``read_parquet('OUT/**/*.parquet', hive_partitioning=1)`` reads exactly them; the errors
# table (another schema, another partitioning) is Parquet too, named ``*.pq``.
PREDICTIONS_EXTENSION = ".parquet"
ERRORS_EXTENSION = ".pq"


@dataclass(frozen=True)
class OutputLayout:
    output: str
    run_id: str
    model_version: str
    scored_date: str  # YYYY-MM-DD, UTC, when the run started
    shard: str = ""  # "shard-00001-of-00004" when one run is scored by several tasks (dermflow.orchestration.scoring_shards)

    @property
    def file_tag(self) -> str:
        """Run id, plus the shard for a sharded run: shards of one run never share a file name."""
        return f"{self.run_id}-{self.shard}" if self.shard else self.run_id

    @property
    def predictions_dir(self) -> str:
        return FileSystems.join(self.output, PREDICTIONS)

    @property
    def errors_dir(self) -> str:
        return FileSystems.join(self.output, ERRORS)

    @property
    def predictions_partition(self) -> str:
        return FileSystems.join(self.predictions_dir, f"model_version={self.model_version}", f"scored_date={self.scored_date}")

    @property
    def errors_partition(self) -> str:
        return FileSystems.join(self.errors_dir, f"run_id={self.run_id}")

    @property
    def overlays_dir(self) -> str:
        return FileSystems.join(self.output, OVERLAYS, f"model_version={self.model_version}")

    @property
    def staging_dir(self) -> str:
        if self.shard:
            return FileSystems.join(self.output, STAGING, self.run_id, self.shard)
        return FileSystems.join(self.output, STAGING, self.run_id)

    def staging_prefix(self, table: str) -> str:
        return FileSystems.join(self.staging_dir, table)

    def gallery_path(self) -> str:
        return FileSystems.join(self.output, f"gallery-{self.file_tag}.html")

    def isic_csv_path(self) -> str:
        return FileSystems.join(self.output, f"isic_submission-{self.file_tag}.csv")


def staged_files(layout: OutputLayout, table: str) -> list[str]:
    pattern = layout.staging_prefix(table) + "-*" + STAGED_SUFFIX
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def count_rows(files: list[str]) -> int:
    total = 0
    for path in files:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            total += pq.ParquetFile(handle).metadata.num_rows
    return total


def publish(layout: OutputLayout, table: str, partition_dir: str, file_prefix: str, extension: str) -> list[str]:
    """Renames the run's staged shards of ``table`` into ``partition_dir``; empty shards are deleted."""
    published = []
    for staged in staged_files(layout, table):
        if count_rows([staged]) == 0:
            FileSystems.delete([staged])
            continue
        shard = FileSystems.split(staged)[1][len(table):-len(STAGED_SUFFIX)]  # "-00000-of-00002"
        final = FileSystems.join(partition_dir, f"{file_prefix}-{layout.file_tag}{shard}{extension}")
        _ensure_dir(partition_dir)
        FileSystems.rename([staged], [final])
        published.append(final)
    return published


def _ensure_dir(path: str) -> None:
    if not FileSystems.exists(path):
        try:
            FileSystems.mkdirs(path)
        except IOError:
            if not FileSystems.exists(path):  # another worker made it meanwhile: fine
                raise


def write_bytes_atomically(path: str, data: bytes) -> None:
    """Writes ``path`` under a temp name, then renames it: readers never see half a file."""
    temp = path + ".inprogress"
    with FileSystems.create(temp) as handle:
        handle.write(data)
    FileSystems.rename([temp], [path])


def remove_staging(layout: OutputLayout) -> None:
    if FileSystems.exists(layout.staging_dir):
        FileSystems.delete([layout.staging_dir])
