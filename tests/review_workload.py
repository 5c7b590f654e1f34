"""Shared by the review store's tests (SQLite unit tests, the PostgreSQL e2e, the cluster e2e): made-up
images and shown predictions, and writers that record verdicts at once from threads or processes."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from dermflow.review import ShownPrediction, record_verdict

PASSWORD = "a long enough password"
# Opens the store, waits for the start file, records N verdicts, prints their ids (one JSON line).
WRITER = """
import json, os, sys, time
from pathlib import Path
from dermflow.review import open_review_database, record_verdict
url, reviewer, prefix, count, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
db = open_review_database(url, os.environ.get("REVIEW_TEST_PASSWORD"))
while not start.exists():
    time.sleep(0.01)
ids = [record_verdict(db, reviewer=reviewer, sha256=__import__("hashlib").sha256(f"{prefix}-{i}".encode()).hexdigest(),
                      diagnosis="NV", basis="single_expert", comment=f"{prefix} {i}").id for i in range(count)]
print(json.dumps(ids), flush=True)
"""


def image_sha256(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def shown(version: str = "20260101T000000Z", predicted: str = "MEL", labels=("MEL", "NV", "BCC"),
          out_of_scope: bool | None = False, run_id: str | None = "run-1") -> ShownPrediction:
    rest = (1.0 - 0.7) / (len(labels) - 1)
    probabilities = {label: (0.7 if label == predicted else rest) for label in labels}
    return ShownPrediction("dermflow_mobilenet_v2", version, predicted, probabilities, out_of_scope, run_id)


def record_in_threads(db, reviewer: str, writers: int = 8, total: int = 200, prefix: str = "thread") -> list[int]:
    """``writers`` threads record ``total`` verdicts between them, all starting together; returns every id."""
    start, ids, errors = threading.Barrier(writers), [], []

    def write(worker: int) -> None:
        try:
            start.wait()
            for i in range(worker, total, writers):
                ids.append(record_verdict(db, reviewer=reviewer, sha256=image_sha256(f"{prefix}-{i}"),
                                          diagnosis="BCC", basis="consensus", shown=shown()).id)
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return ids


def record_in_processes(url: str, reviewer: str, folder: Path, processes: int = 4, total: int = 200,
                        password: str | None = None, prefix: str = "process") -> list[int]:
    """``processes`` Python processes record ``total`` verdicts between them, starting together."""
    start = folder / f"start-{prefix}"
    env = {**os.environ, **({"REVIEW_TEST_PASSWORD": password} if password else {})}
    children = [subprocess.Popen([sys.executable, "-c", WRITER, url, reviewer, f"{prefix}{k}", str(total // processes),
                                  str(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                for k in range(processes)]
    time.sleep(0.5)
    start.touch()
    ids = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-2000:]
        ids += json.loads(out.strip().splitlines()[-1])
    return ids
