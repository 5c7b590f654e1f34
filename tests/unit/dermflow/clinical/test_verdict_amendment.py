import io
from datetime import datetime, timezone

import highdicom as hd
import pyarrow as pa
import pyarrow.parquet as pq
import pydicom
import pytest

from support.clinical_fixtures import MODEL_VERSION, PATIENT_NAME, SOURCE_UID, STUDY_UID, finding, source_header
from dermflow.clinical import clinical_files, snomed_codes
from dermflow.clinical.result_export import ExportSettings
from dermflow.clinical.sr_writer import Verdict, build_sr
from dermflow.clinical.verdict_amendment import AmendmentError, amend_with_verdict, source_header_from_sr
from dermflow.imaging.dicom_reader import hash_uid
from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA

SHA = "cd" * 32


def _scored(tmp_path):
    """A predictions row and the first SR, where a scoring run with SRs on leaves them."""
    partition = tmp_path / "out" / "predictions" / f"model_version={MODEL_VERSION}" / "scored_date=2026-01-06"
    partition.mkdir(parents=True)
    row = {
        "path": "a.dcm", "sha256": SHA, "format": "dicom", "width": 40, "height": 30, "dicom_uid_sha256": hash_uid(SOURCE_UID),
        "model_name": "dermflow_test", "predicted_label": "MEL", "predicted_index": 0, "predicted_probability": 0.7,
        "probabilities": [("MEL", 0.7), ("NV", 0.2), ("BCC", 0.1)], "in_scope_score": 0.8, "out_of_scope": False,
        "prediction_set": ["MEL"], "prediction_set_size": 1, "gradcam": [1.0, 0.0, 0.0, 0.0], "gradcam_shape": [2, 2],
        "gradcam_png": b"", "scored_at": datetime(2026, 1, 6, tzinfo=timezone.utc), "run_id": "r1",
    }
    pq.write_table(pa.Table.from_pylist([row], schema=PREDICTIONS_SCHEMA), partition / "part-r1-0.parquet")
    clinical = clinical_files.prepare_clinical_dir(tmp_path / "clinical", tmp_path / "out")
    first = build_sr(source_header(), finding())
    buffer = io.BytesIO()
    first.save_as(buffer, enforce_file_format=True)
    clinical_files.write_private(clinical_files.sr_path(clinical, MODEL_VERSION, SOURCE_UID), buffer.getvalue())
    return ExportSettings(str(clinical), "amend", "sr"), str(tmp_path / "out" / "predictions"), first


def test_the_first_sr_knows_the_patient_study_and_source():
    header = source_header_from_sr(build_sr(source_header(), finding()))
    assert (str(header.PatientName), header.StudyInstanceUID, header.SOPInstanceUID) == (PATIENT_NAME, STUDY_UID, SOURCE_UID)


def test_a_verdict_becomes_an_amended_sr_that_references_the_first(tmp_path):
    settings, predictions, first = _scored(tmp_path)
    verdict = Verdict(label="NV", agrees=False, recorded_at=datetime(2026, 1, 8, 9, 30, tzinfo=timezone.utc), comment="")
    amended = amend_with_verdict(settings, predictions, MODEL_VERSION, SHA, verdict)
    assert amended.outcome.status == "written" and amended.path.is_file() and SOURCE_UID not in amended.path.name
    sr = pydicom.dcmread(amended.path)
    assert sr.SOPInstanceUID == amended.sop_instance_uid != first.SOPInstanceUID
    assert sr.StudyInstanceUID == STUDY_UID and str(sr.PatientName) == PATIENT_NAME
    predecessor = sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert predecessor.ReferencedSOPInstanceUID == first.SOPInstanceUID
    again = amend_with_verdict(settings, predictions, MODEL_VERSION, SHA, verdict)
    assert again.sop_instance_uid == amended.sop_instance_uid  # one verdict, one amended SR
    lesion = hd.sr.srread(amended.path).content.get_image_measurement_groups()[0]
    evaluations = {e.name.value: e.value.value for e in lesion.get_qualitative_evaluations()}
    assert evaluations[snomed_codes.CLINICIAN_VERDICT.value] == snomed_codes.finding_concept("NV").value


def test_no_first_sr_or_no_prediction_is_a_clear_error(tmp_path):
    settings, predictions, _ = _scored(tmp_path)
    verdict = Verdict(label="NV", agrees=False, recorded_at=datetime(2026, 1, 8, tzinfo=timezone.utc))
    with pytest.raises(AmendmentError, match="no DICOM prediction"):
        amend_with_verdict(settings, predictions, MODEL_VERSION, "ef" * 32, verdict)
    for path in (tmp_path / "clinical" / "dicom").rglob("*-sr.dcm"):
        path.unlink()
    with pytest.raises(AmendmentError, match="no SR"):
        amend_with_verdict(settings, predictions, MODEL_VERSION, SHA, verdict)
