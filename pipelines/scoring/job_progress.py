"""Live progress of the Beam scoring job, across worker processes, through small files in its staging.

    outcomes | beam.ParDo(FilesDoneCounter(progress_dir(layout), every_s))   # in the job: scored, skipped, rejected
    with ProgressLines(progress_dir(layout), total, every_s, say):          # in the launcher, around the job
        run_the_beam_job()
    # score:     12s  30/48 files  4.1 files/s  ETA 4s

On the default DirectRunner (multi_processing) the workers are other processes, so a count in
memory would not reach the launcher. Each :class:`FilesDoneCounter` instance keeps its own count
of files that have left the job (scored, skipped or rejected) and rewrites
``<staging_dir>/progress/<instance>.json`` atomically, at most every ``every_s`` and at the end of
each bundle. :class:`ProgressLines` sums those files every ``every_s`` in a thread and prints a
line when the sum has changed, and a last one when the job has ended. The files go with the
run's staging (removed after publishing).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Callable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from dermflow.console_progress import format_duration
from dermflow.pipelines.scoring.staged_output import OutputLayout, write_bytes_atomically

PROGRESS_FOLDER = "progress"


def progress_dir(layout: OutputLayout) -> str:
    return FileSystems.join(layout.staging_dir, PROGRESS_FOLDER)


def progress_line(elapsed_s: float, done: int, total: int, files_per_s: float) -> str:
    eta = format_duration((total - done) / files_per_s) if files_per_s > 0 else "?"
    return f"score: {elapsed_s:6.0f}s  {done}/{total} files  {files_per_s:.1f} files/s  ETA {eta}"


class FilesDoneCounter(beam.DoFn):
    """Counts the elements it is given (each one a file that left the job) into its own progress file; emits nothing."""

    def __init__(self, folder: str, every_s: float):
        self._folder = folder
        self._every_s = every_s

    def setup(self):
        self._path = FileSystems.join(self._folder, f"{uuid.uuid4().hex}.json")
        self._done = 0
        self._written = 0
        self._last_write = time.monotonic()

    def process(self, element):
        self._done += 1
        if time.monotonic() - self._last_write >= self._every_s:
            self._write()
        return []

    def finish_bundle(self):
        if self._done != self._written:
            self._write()

    def _write(self) -> None:
        self._last_write = time.monotonic()
        try:
            write_bytes_atomically(self._path, json.dumps({"done": self._done}).encode("ascii"))
            self._written = self._done
        except OSError:  # progress is for people; a missed update is retried, the job goes on
            pass


def files_done(folder: str) -> int:
    """The sum of the counts in ``folder``'s progress files (0 before the first is written)."""
    try:
        found = FileSystems.match([FileSystems.join(folder, "*.json")])[0].metadata_list
    except OSError:
        return 0
    total = 0
    for meta in found:
        try:
            with FileSystems.open(meta.path, compression_type="uncompressed") as handle:
                total += int(json.loads(handle.read())["done"])
        except (OSError, ValueError, KeyError):  # renamed away meanwhile: the next poll reads it
            pass
    return total


class ProgressLines:
    """While the job runs (a context manager), ``say`` gets a progress line every ``every_s`` when the count changed."""

    def __init__(self, folder: str, total: int, every_s: float, say: Callable[[str], None]):
        self._folder = folder
        self._total = total
        self._every_s = every_s
        self._say = say
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="scoring-progress", daemon=True)
        self._started = time.monotonic()
        self._first_seen: tuple[float, int] | None = None  # (time, count) of the first count above 0
        self._said = 0

    def __enter__(self) -> "ProgressLines":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if exc_type is None:
            self._report()

    def _poll(self) -> None:
        while not self._stop.wait(self._every_s):
            self._report()

    def _report(self) -> None:
        done = min(files_done(self._folder), self._total)
        if done == self._said:
            return
        now = time.monotonic()
        if self._first_seen is None:
            self._first_seen = (now, done)
        self._said = done
        self._say(progress_line(now - self._started, done, self._total, self._files_per_s(now, done)))

    def _files_per_s(self, now: float, done: int) -> float:
        # From the first count seen on: before it, the workers were starting (TensorFlow, the model).
        seen_at, seen_done = self._first_seen
        if done > seen_done and now > seen_at:
            return (done - seen_done) / (now - seen_at)
        return done / (now - self._started) if now > self._started else 0.0
