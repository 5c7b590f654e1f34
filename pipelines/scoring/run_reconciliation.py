"""Checks a (sharded) scoring run against its Parquet dataset: every file given accounted for exactly once.

    summary = reconcile_run(output, run_id, model_version, files)   # raises ReconciliationError otherwise
    publish_run_outputs(output, run_id)   # then: a zero-row errors file if none, no _staging/<run_id>/

For the run ``run_id``: ``scored`` is its prediction rows, ``rejected`` its error rows; each file
given that has neither was ``skipped`` only if its content (sha256) was already scored by this
model version. The run reconciles when no file has two rows (a shard published twice), none is
missing (a shard lost it), none of the rows is for a file not given, and
scored + skipped + rejected == files given.
"""
from __future__ import annotations

import collections
import hashlib

import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems

from dermflow.pipelines.scoring.scored_index import model_version_dir
from dermflow.pipelines.scoring.staged_output import ERRORS_EXTENSION, PREDICTIONS_EXTENSION, OutputLayout

MAX_NAMED = 20


class ReconciliationError(RuntimeError):
    """The run's outputs do not match the files it was given; the message has the numbers and names."""


def _table(files: list[str], columns: list[str]):
    if not files:
        return None
    return ds.dataset(files, format="parquet").to_table(columns=columns)


def _match(pattern: str) -> list[str]:
    return [m.path for m in FileSystems.match([pattern])[0].metadata_list]


def _sha256(path: str) -> str:
    from dermflow.clinical.dicomweb_source import is_dicomweb
    from dermflow.pipelines.scoring.input_listing import read_input_bytes

    digest = hashlib.sha256()
    if is_dicomweb(path):  # a PACS instance (credentials from the environment)
        digest.update(read_input_bytes(path))
        return digest.hexdigest()
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_rows(output: str, run_id: str, model_version: str) -> tuple[list[str], list[str], frozenset[str]]:
    """(paths scored in the run, paths rejected in the run, sha256 of everything this version scored)."""
    layout = OutputLayout(str(output), run_id, model_version, "")
    predictions = _table(
        _match(FileSystems.join(model_version_dir(layout.predictions_dir, model_version), "**" + PREDICTIONS_EXTENSION)),
        ["path", "sha256", "run_id"],
    )
    scored, known = [], frozenset()
    if predictions is not None:
        rows = predictions.to_pydict()
        scored = [path for path, run in zip(rows["path"], rows["run_id"]) if run == run_id]
        known = frozenset(rows["sha256"])
    errors = _table(_match(FileSystems.join(layout.errors_partition, "*" + ERRORS_EXTENSION)), ["path"])
    rejected = errors.column("path").to_pylist() if errors is not None else []
    return scored, rejected, known


def reconcile_run(output: str, run_id: str, model_version: str, files: list) -> dict:
    """``files``: the ``InputFile``s given to the run (all shards). Returns the run's totals."""
    scored, rejected, known = run_rows(output, run_id, model_version)
    given = collections.Counter(item.relative_path for item in files)
    produced = collections.Counter(scored) + collections.Counter(rejected)
    duplicated = sorted(path for path, count in produced.items() if count > given.get(path, 0) and path in given)
    unexpected = sorted(path for path in produced if path not in given)
    leftover = given - produced
    by_relative = collections.defaultdict(list)
    for item in files:
        by_relative[item.relative_path].append(item.path)
    lost = sorted(path for path in leftover if not all(_sha256(p) in known for p in by_relative[path]))
    skipped = sum(count for path, count in leftover.items() if path not in lost)
    summary = {
        "run_id": run_id, "model_version": model_version, "files_given": len(files),
        "scored": len(scored), "skipped_already_scored": skipped, "rejected": len(rejected),
        "duplicated": duplicated, "lost": lost, "unexpected": unexpected,
    }
    total = summary["scored"] + skipped + summary["rejected"]
    if duplicated or lost or unexpected or total != len(files):
        raise ReconciliationError(
            f"run {run_id}: {summary['scored']} scored + {skipped} skipped + {summary['rejected']} rejected = {total}, "
            f"but {len(files)} files were given; {len(duplicated)} with more than one row {duplicated[:MAX_NAMED]}, "
            f"{len(lost)} with no row {lost[:MAX_NAMED]}, {len(unexpected)} rows for files not given {unexpected[:MAX_NAMED]}"
        )
    return summary


def publish_run_outputs(output: str, run_id: str) -> None:
    """After a sharded run reconciled: its errors partition holds a file (zero rows if need be), its staging is gone."""
    from dermflow.pipelines.scoring.staged_output import publish_empty_if_none, remove_run_staging
    from dermflow.schemas.scores_schema import ERRORS_SCHEMA

    layout = OutputLayout(str(output), run_id, "", "")
    published = _match(FileSystems.join(layout.errors_partition, "*" + ERRORS_EXTENSION))
    publish_empty_if_none(published, layout.errors_partition, f"errors-{run_id}-empty{ERRORS_EXTENSION}", ERRORS_SCHEMA)
    remove_run_staging(str(output), run_id)
