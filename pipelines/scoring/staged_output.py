"""Where a run writes, and how its files become visible.

Beam's file sinks write to a temp folder and rename at finalisation, but that temp folder sits
next to the final files and holds complete-looking ``*.parquet`` names, which DuckDB's
``**/*.parquet`` glob would read after a kill. So the job writes its Parquet shards under
``<output>/_staging/<run_id>/`` with a ``.staged`` suffix (outside every dataset folder, never
matching ``*.parquet``), and the launcher publishes them when the job has succeeded: one rename
per file into its Hive partition. A reader sees a file complete or not at all; a run killed
before publishing leaves nothing where readers look, and its re-run scores those images again.

Every run publishes a predictions and an errors file, zero rows if need be, so a glob over either
dataset always finds a file. While a run works, it touches ``_staging/<run_id>/[<shard>/]heartbeat``;
a later run deletes the staging of runs whose newest staged file is older than
``score.staging_dead_after_seconds`` (their run died), never that of a run still beating.
File locks are not used: they are unreliable on network filesystems.
"""
from __future__ import annotations

import io
import os
import threading
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

PREDICTIONS = "predictions"
ERRORS = "errors"
OVERLAYS = "overlays"
STAGING = "_staging"
STAGED_SUFFIX = ".staged"
HEARTBEAT = "heartbeat"
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


def publish_empty_if_none(published: list[str], partition_dir: str, file_name: str, schema: pa.Schema) -> list[str]:
    """When a run published no file of a table, a zero-row file with its schema, so readers' globs match."""
    if published:
        return published
    _ensure_dir(partition_dir)
    path = FileSystems.join(partition_dir, file_name)
    buffer = io.BytesIO()
    pq.write_table(schema.empty_table(), buffer, compression="snappy")
    write_bytes_atomically(path, buffer.getvalue())
    return [path]


def staging_root(output: str) -> str:
    return FileSystems.join(output, STAGING)


def remove_staging(layout: OutputLayout) -> None:
    """Deletes this run's (or shard's) staging; then ``_staging/<run_id>/`` and ``_staging/`` if they are empty."""
    if FileSystems.exists(layout.staging_dir):
        FileSystems.delete([layout.staging_dir])
    parents = [FileSystems.join(layout.output, STAGING, layout.run_id)] if layout.shard else []
    for folder in [*parents, staging_root(layout.output)]:
        _remove_if_empty(folder)


def remove_run_staging(output: str, run_id: str) -> None:
    """After a sharded run has reconciled: its whole ``_staging/<run_id>/`` (every shard has finished)."""
    folder = FileSystems.join(output, STAGING, run_id)
    if FileSystems.exists(folder):
        FileSystems.delete([folder])
    _remove_if_empty(staging_root(output))


def _remove_if_empty(folder: str) -> None:
    if "://" in folder:  # object stores have no folders to leave behind
        return
    try:
        os.rmdir(folder)
    except OSError:  # not empty (another run is staging), or already gone
        pass


def remove_dead_staging(output: str, dead_after_s: float, keep_run: str = "", now: float | None = None) -> list[str]:
    """Deletes ``_staging/<run_id>/`` of every run but ``keep_run`` whose newest file is older than ``dead_after_s``."""
    root = staging_root(output)
    if not FileSystems.exists(root):
        return []
    now = time.time() if now is None else now
    newest: dict[str, float] = {}
    for meta in FileSystems.match([FileSystems.join(root, "**")])[0].metadata_list:
        run = meta.path[len(root):].lstrip("/").split("/", 1)[0]
        newest[run] = max(newest.get(run, 0.0), meta.last_updated_in_seconds)
    if "://" not in root:  # empty local run folders too (a run killed before its first file)
        for entry in os.scandir(root):
            if entry.is_dir(follow_symlinks=False):
                newest.setdefault(entry.name, entry.stat(follow_symlinks=False).st_mtime)
    removed = []
    for run, updated in sorted(newest.items()):
        if run and run != keep_run and now - updated > dead_after_s:
            FileSystems.delete([FileSystems.join(root, run)])
            removed.append(run)
    return removed


class Heartbeat:
    """Touches ``<staging_dir>/heartbeat`` every ``interval_s`` while the run works (a context manager)."""

    def __init__(self, layout: OutputLayout, interval_s: float):
        self._path = FileSystems.join(layout.staging_dir, HEARTBEAT)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="staging-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def beat(self) -> None:
        write_bytes_atomically(self._path, f"{time.time():.3f}\n".encode("ascii"))

    def _beat(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.beat()
            except OSError:  # a missed beat is retried; the run itself is what matters
                pass
