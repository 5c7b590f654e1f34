"""`dermflow score` prints live progress from the Beam workers (other processes) while the job runs."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

FILES = 30
PROGRESS = re.compile(r"^score: +\d+s  (\d+)/(\d+) files  [\d.]+ files/s  ETA \S+$")


def test_progress_lines_count_up_to_the_files_given(scoring_model, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for source in sorted(scoring_model.images_dir.glob("*.jpg"))[: FILES - 1]:
        shutil.copy(source, inputs / source.name)
    (inputs / "notes.txt").write_bytes(b"not an image\n")  # a rejected file counts as done too
    done = subprocess.run(
        [sys.executable, "-m", "dermflow.cli", "score", "--input", str(inputs), "--model", scoring_model.spec,
         "--output", str(tmp_path / "out"), "--set", f"paths.work_dir={tmp_path / 'work'}",
         "--set", "beam.direct_num_workers=2", "--set", "score.progress_seconds=0.2",
         "--set", "score.min_batch_size=4", "--set", "score.max_batch_size=4"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    progress = [(int(m[1]), int(m[2])) for m in map(PROGRESS.match, lines) if m]
    assert progress, lines
    assert {total for _, total in progress} == {FILES}
    counts = [count for count, _ in progress]
    assert counts == sorted(set(counts)), "a line only when the count changed, never going back"
    assert counts[-1] == FILES
    given = next(index for index, line in enumerate(lines) if re.match(rf"^score: {FILES} files given", line))
    summary = next(index for index, line in enumerate(lines) if line.startswith("score: run "))
    assert all(given < index < summary for index, line in enumerate(lines) if PROGRESS.match(line))
    assert re.search(r"^  rejected    : 1 \(1 not_an_image\)$", done.stdout, re.M)
    assert done.stderr == ""
