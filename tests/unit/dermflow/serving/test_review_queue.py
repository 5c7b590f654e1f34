"""The review queue over hand-written results Parquet: each reason, the random audit apart, reviewed images gone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA
from dermflow.serving.results_store import ResultsStore
from dermflow.serving.review_queue import QueueSettings, audit_draw, review_queue

LABELS = ["MEL", "NV", "BCC"]
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _row(name: str, probabilities: list[float], out_of_scope=False, prediction_set=("NV",), version="v1", age=0,
         attention_off_lesion=False) -> dict:
    index = max(range(3), key=lambda i: probabilities[i])
    return {
        "path": f"{name}.jpg", "sha256": name * 8, "format": "jpeg", "width": 8, "height": 8, "dicom_uid_sha256": None,
        "model_name": "m", "predicted_label": LABELS[index], "predicted_index": index,
        "predicted_probability": probabilities[index], "probabilities": list(zip(LABELS, probabilities)),
        "gradcam": [0.5], "gradcam_shape": [1, 1], "gradcam_png": b"", "scored_at": NOW - timedelta(days=age),
        "run_id": f"run-{version}", "out_of_scope": out_of_scope, "in_scope_score": 0.02 if out_of_scope else 0.6,
        "prediction_set": list(prediction_set), "prediction_set_size": len(prediction_set),
        "gradcam_in_lesion": 0.1 if attention_off_lesion else 0.8, "attention_off_lesion": attention_off_lesion,
    }


@pytest.fixture()
def store(tmp_path):
    confident = [_row(f"c{i:03d}", [0.02, 0.97, 0.01]) for i in range(200)]
    rows = [
        _row("oos", [0.9, 0.05, 0.05], out_of_scope=True, prediction_set=("MEL",)),
        _row("two", [0.1, 0.5, 0.4], prediction_set=("NV", "BCC")),
        _row("none", [0.1, 0.5, 0.4], prediction_set=()),
        _row("band", [0.5, 0.45, 0.05], prediction_set=("MEL",)),
        _row("ruler", [0.01, 0.98, 0.01], attention_off_lesion=True),
        *confident,
    ]
    folder = tmp_path / "predictions" / "model_version=v1" / "scored_date=2026-12-01"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA), folder / "part-r-00000-of-00001.parquet")
    # An older scoring of "band" by another version, confident: the newest one counts.
    older = tmp_path / "predictions" / "model_version=v0" / "scored_date=2026-11-01"
    older.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([_row("band", [0.01, 0.98, 0.01], version="v0", age=30)], schema=PREDICTIONS_SCHEMA),
                   older / "part-r-00000-of-00001.parquet")
    return ResultsStore([tmp_path])


def test_each_reason_puts_an_image_in_the_queue_once(store):
    queue = review_queue(store, QueueSettings(melanoma_band=(0.3, 0.7), audit_share=0.0))
    reasons = {entry.row["path"]: entry.reasons for entry in queue.needs_review}
    assert reasons == {"oos.jpg": ["out_of_scope"], "two.jpg": ["prediction_set"], "none.jpg": ["prediction_set"],
                       "band.jpg": ["melanoma_band"], "ruler.jpg": ["attention_off_lesion"]}
    assert queue.needs_review[0].row["path"] == "oos.jpg" and queue.needs_review_total == 5
    assert next(e for e in queue.needs_review if e.row["path"] == "band.jpg").row["model_version"] == "v1"
    assert queue.random_audit == []


def test_the_random_audit_is_a_deterministic_share_of_the_confident_rest(store):
    settings = QueueSettings(melanoma_band=(0.3, 0.7), audit_share=0.1, audit_seed=7)
    first, again = review_queue(store, settings), review_queue(store, settings)
    audited = [entry.row["sha256"] for entry in first.random_audit]
    assert audited == [entry.row["sha256"] for entry in again.random_audit]
    assert 8 <= len(audited) <= 35 and all(entry.reasons == ["random_audit"] for entry in first.random_audit)
    assert all(sha.startswith("c") for sha in audited)  # only confident images are audited
    assert all(audit_draw(sha, 7) < 0.1 for sha in audited)
    other_seed = review_queue(store, QueueSettings(melanoma_band=(0.3, 0.7), audit_share=0.1, audit_seed=8))
    assert {e.row["sha256"] for e in other_seed.random_audit} != set(audited)


def test_reviewed_images_leave_the_queue(store):
    queue = review_queue(store, QueueSettings(melanoma_band=(0.3, 0.7), audit_share=0.0), reviewed={"oos" * 8, "two" * 8})
    assert sorted(entry.row["path"] for entry in queue.needs_review) == ["band.jpg", "none.jpg", "ruler.jpg"]


def test_an_empty_folder_is_an_empty_queue(tmp_path):
    queue = review_queue(ResultsStore([tmp_path]), QueueSettings())
    assert queue.needs_review == [] and queue.random_audit == []


def test_a_drifted_run_is_audited_at_its_larger_share(store):
    base = QueueSettings(melanoma_band=(0.3, 0.7), audit_share=0.05, audit_seed=3)
    drifted = QueueSettings(melanoma_band=(0.3, 0.7), audit_share=0.05, audit_seed=3, run_audit_shares={"run-v1": 0.5})
    quiet, loud = review_queue(store, base), review_queue(store, drifted)
    assert {e.row["sha256"] for e in quiet.random_audit} < {e.row["sha256"] for e in loud.random_audit}
    assert 60 <= loud.random_audit_total <= 140  # about half of the 200 confident images of the drifted run
    assert drifted.audit_share_of("run-v1") == 0.5 and drifted.audit_share_of("another") == 0.05
