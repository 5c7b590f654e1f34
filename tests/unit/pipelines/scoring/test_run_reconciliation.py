import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dermflow.pipelines.scoring.input_listing import InputFile
from dermflow.pipelines.scoring.run_reconciliation import ReconciliationError, reconcile_run

VERSION = "20250101T000000Z"
RUN = "manual_run"


@pytest.fixture
def world(tmp_path):
    images = tmp_path / "in"
    images.mkdir()
    files = []
    for i in range(6):
        (images / f"img_{i}.jpg").write_bytes(f"image {i}".encode())
        files.append(InputFile(str(images / f"img_{i}.jpg"), f"img_{i}.jpg"))
    return tmp_path / "out", files


def _sha(item):
    return hashlib.sha256(open(item.path, "rb").read()).hexdigest()


def _predictions(out, name, items, run_id=RUN, day="2025-01-01"):
    folder = out / "predictions" / f"model_version={VERSION}" / f"scored_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({"path": [i.relative_path for i in items], "sha256": [_sha(i) for i in items],
                      "run_id": [run_id] * len(items)})
    pq.write_table(table, folder / f"{name}.parquet")


def _errors(out, name, items):
    folder = out / "errors" / f"run_id={RUN}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"path": [i.relative_path for i in items]}), folder / f"{name}.pq")


def test_two_shards_with_a_rejected_file_and_one_scored_earlier_reconcile(world):
    out, files = world
    _predictions(out, "earlier", files[:1], run_id="an_earlier_run")
    _predictions(out, "part-shard-0", files[1:3])
    _predictions(out, "part-shard-1", files[3:5])
    _errors(out, "errors-shard-1", files[5:])
    summary = reconcile_run(str(out), RUN, VERSION, files)
    assert (summary["scored"], summary["skipped_already_scored"], summary["rejected"]) == (4, 1, 1)
    assert summary["files_given"] == 6


def test_a_shard_published_twice_fails_with_the_names(world):
    out, files = world
    _predictions(out, "part-shard-0", files[:3])
    _predictions(out, "part-shard-0-again", files[:1])
    _predictions(out, "part-shard-1", files[3:])
    with pytest.raises(ReconciliationError, match=r"1 with more than one row \['img_0.jpg'\]"):
        reconcile_run(str(out), RUN, VERSION, files)


def test_a_lost_shard_fails_with_the_numbers(world):
    out, files = world
    _predictions(out, "part-shard-0", files[:4])
    with pytest.raises(ReconciliationError, match=r"4 scored \+ 0 skipped \+ 0 rejected = 4, but 6 files were given.*2 with no row"):
        reconcile_run(str(out), RUN, VERSION, files)


def test_rows_for_files_not_given_fail(world):
    out, files = world
    _predictions(out, "part", files)
    with pytest.raises(ReconciliationError, match="rows for files not given"):
        reconcile_run(str(out), RUN, VERSION, files[:5])


def test_an_empty_run_of_no_files_reconciles(world):
    out, _ = world
    assert reconcile_run(str(out), RUN, VERSION, [])["files_given"] == 0
