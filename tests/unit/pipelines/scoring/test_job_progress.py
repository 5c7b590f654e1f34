"""Progress across processes: counters write files in the staging, the launcher's lines sum them."""
from __future__ import annotations

import re
import time

from dermflow.pipelines.scoring.job_progress import FilesDoneCounter, ProgressLines, files_done, progress_line

LINE = re.compile(r"^score: +\d+s  (\d+)/(\d+) files  [\d.]+ files/s  ETA (\S+)$")
EVERY_S = 0.05


def _counter(folder) -> FilesDoneCounter:
    counter = FilesDoneCounter(folder, every_s=3600.0)  # writes only at the end of a bundle here
    counter.setup()
    return counter


def _bundle(counter: FilesDoneCounter, n: int) -> None:
    for element in range(n):
        assert list(counter.process(element)) == []
    counter.finish_bundle()


def _wait_for(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(EVERY_S)


def test_counts_of_every_worker_are_summed(tmp_path):
    folder = str(tmp_path / "progress")
    assert files_done(folder) == 0
    first, second = _counter(folder), _counter(folder)
    _bundle(first, 3)
    _bundle(second, 2)
    _bundle(first, 4)
    assert files_done(folder) == 9
    assert len(list((tmp_path / "progress").glob("*.json"))) == 2


def test_a_line_while_the_count_changes_none_while_it_does_not_and_a_last_one(tmp_path):
    folder = str(tmp_path / "progress")
    lines: list[str] = []
    first, second = _counter(folder), _counter(folder)
    with ProgressLines(folder, total=10, every_s=EVERY_S, say=lines.append):
        _bundle(first, 3)
        _wait_for(lambda: lines)
        time.sleep(5 * EVERY_S)  # nothing changes: no new line
        assert len(lines) == 1
        _bundle(second, 4)
        _wait_for(lambda: len(lines) == 2)
        _bundle(first, 3)
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(int(m[1]), int(m[2])) for m in parsed] == [(3, 10), (7, 10), (10, 10)]
    assert parsed[-1][3] == "0s"


def test_the_eta_is_the_files_left_at_the_rate():
    assert progress_line(12.4, 30, 90, 4.0) == "score:     12s  30/90 files  4.0 files/s  ETA 15s"
    assert progress_line(100.0, 10, 4010, 2.0).endswith("ETA 33m20s")
    assert progress_line(3.0, 0, 10, 0.0).endswith("ETA ?")
