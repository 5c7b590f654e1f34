"""`dermflow verdicts send-sr`: current verdicts on DICOM inputs become amended SRs of the model's first SR."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pydicom
import pytest

from dermflow.clinical import clinical_files
from dermflow.clinical.sr_writer import build_sr
from dermflow.config import load_config
from dermflow.imaging.dicom_reader import hash_uid
from dermflow.review import record_verdict
from dermflow.review.verdict_sr import send_verdicts_as_sr
from dermflow.review.verdict_store import ShownPrediction
from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA
from support.clinical_fixtures import MODEL_VERSION, SOURCE_UID, finding, source_header

DICOM_SHA, JPEG_SHA, OTHER_SHA = "ab" * 32, "cd" * 32, "ef" * 32


def _row(sha256: str, fmt: str) -> dict:
    return {
        "path": f"{sha256[:4]}.{fmt}", "sha256": sha256, "format": fmt, "width": 40, "height": 30,
        "dicom_uid_sha256": hash_uid(SOURCE_UID) if fmt == "dicom" else None, "model_name": "m",
        "predicted_label": "MEL", "predicted_index": 0, "predicted_probability": 0.7,
        "probabilities": [("MEL", 0.7), ("NV", 0.2), ("BCC", 0.1)], "in_scope_score": 0.8, "out_of_scope": False,
        "prediction_set": ["MEL"], "prediction_set_size": 1, "gradcam": [1.0, 0.0, 0.0, 0.0], "gradcam_shape": [2, 2],
        "gradcam_png": b"", "scored_at": datetime(2026, 1, 6, tzinfo=timezone.utc), "run_id": "r1",
    }


def test_each_current_verdict_on_a_dicom_input_is_sent_and_the_rest_are_said(tmp_path, db):
    output = tmp_path / "out"
    partition = output / "predictions" / f"model_version={MODEL_VERSION}" / "scored_date=2026-01-06"
    partition.mkdir(parents=True)
    rows = [_row(DICOM_SHA, "dicom"), _row(JPEG_SHA, "jpeg"), _row(OTHER_SHA, "dicom")]
    pq.write_table(pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA), partition / "part-r1-0.parquet")
    clinical = clinical_files.prepare_clinical_dir(tmp_path / "clinical", output)
    buffer = io.BytesIO()
    build_sr(source_header(), finding()).save_as(buffer, enforce_file_format=True)
    clinical_files.write_private(clinical_files.sr_path(clinical, MODEL_VERSION, SOURCE_UID), buffer.getvalue())
    shown = ShownPrediction("m", MODEL_VERSION, "MEL", {"MEL": 0.7, "NV": 0.2, "BCC": 0.1})
    first = record_verdict(db, reviewer="alice", sha256=DICOM_SHA, diagnosis="MEL", basis="consensus", shown=shown)
    record_verdict(db, reviewer="alice", sha256=DICOM_SHA, diagnosis="NV", basis="histopathology", shown=shown,
                   supersedes=first.id, comment="Patient Jane Doe, seen 2026-01-05")
    record_verdict(db, reviewer="alice", sha256=JPEG_SHA, diagnosis="NV", basis="consensus", shown=shown)
    record_verdict(db, reviewer="alice", sha256=OTHER_SHA, diagnosis="OTHER", other_text="a scar", basis="consensus", shown=shown)
    cfg = load_config(None, [f"score.clinical_results_dir={clinical}"])

    sent = send_verdicts_as_sr(db, cfg, output)

    assert (sent.stored, sent.written, sent.failed) == (0, 1, [])
    assert len(sent.skipped) == 2 and any("no DICOM prediction" in line for line in sent.skipped)
    assert any("OTHER has no coded finding" in line for line in sent.skipped)
    [amended] = sorted(clinical.rglob("*-sr-amended-*.dcm"))
    sr = pydicom.dcmread(amended)
    texts = []
    sr.walk(lambda _, element: texts.append(str(element.value)) if element.keyword == "TextValue" else None)
    text = " ".join(texts)
    assert "disagrees with the model's finding (verdict: NV)" in text and "Basis: histopathology." in text
    assert "Jane Doe" not in text  # the comment stays in the review database


def test_an_output_without_predictions_is_one_clear_error(tmp_path, db):
    cfg = load_config(None, [f"score.clinical_results_dir={tmp_path / 'clinical'}"])
    with pytest.raises(ValueError, match="holds no predictions/: --output is the scoring output folder"):
        send_verdicts_as_sr(db, cfg, tmp_path / "nowhere")
