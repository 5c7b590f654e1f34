import io

import highdicom as hd
import pydicom
import pytest

from support.clinical_fixtures import MODEL_VERSION, PATIENT_NAME, SOURCE_UID, STUDY_UID, finding, source_header
from dermflow.clinical import clinical_uids, snomed_codes
from dermflow.clinical.sr_writer import Verdict, build_sr


def _round_trip(sr):
    buffer = io.BytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    return hd.sr.srread(io.BytesIO(buffer.getvalue()))


@pytest.mark.parametrize("jpeg", [False, True])
def test_the_sr_sits_in_the_source_study_and_decodes_to_the_finding(jpeg):
    sr = _round_trip(build_sr(source_header(jpeg), finding()))
    assert sr.StudyInstanceUID == STUDY_UID and str(sr.PatientName) == PATIENT_NAME and sr.Modality == "SR"
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    assert sr.SOPInstanceUID == clinical_uids.result_uid(SOURCE_UID, MODEL_VERSION, clinical_uids.SR)
    assert [uid for _, _, uid, _ in sr.get_evidence()] == [SOURCE_UID]
    groups = sr.content.get_image_measurement_groups()
    lesion, probabilities = groups[0], groups[1:]
    assert lesion.finding_type.value == snomed_codes.SKIN_LESION.value
    assert [image.referenced_sop_instance_uid for image in lesion.source_images] == [SOURCE_UID]
    evaluations = [(e.name.value, e.value.value) for e in lesion.get_qualitative_evaluations()]
    assert (snomed_codes.IMPRESSION.value, "372130007") in evaluations  # MEL, in SNOMED CT
    assert (snomed_codes.OUT_OF_SCOPE.value, snomed_codes.NO.value) in evaluations
    members = [value for name, value in evaluations if name == snomed_codes.PREDICTION_SET_MEMBER.value]
    assert members == ["372130007", "400010006"]
    assert {g.finding_type.meaning: round(g.get_measurements()[0].value, 6) for g in probabilities} == {
        "Malignant melanoma of skin": 0.7, "Melanocytic nevus": 0.2, "Basal cell carcinoma of skin": 0.1,
    }
    assert "research use only" in sr.SeriesDescription


def test_uids_are_deterministic_per_source_and_model_version():
    header = source_header()
    first, again = build_sr(header, finding()), build_sr(header, finding())
    other = build_sr(header, finding(model_version="20260202T000000Z"))
    assert first.SOPInstanceUID == again.SOPInstanceUID != other.SOPInstanceUID
    assert first.SeriesInstanceUID == again.SeriesInstanceUID != header.SeriesInstanceUID
    assert first.SOPInstanceUID.startswith("2.25.") and len(first.SOPInstanceUID) <= 64


def test_an_amended_sr_references_the_first_and_carries_the_verdict():
    from datetime import datetime, timezone

    header = source_header()
    first = build_sr(header, finding())
    verdict = Verdict(label="NV", agrees=False, recorded_at=datetime(2026, 1, 7, tzinfo=timezone.utc))
    amended = _round_trip(build_sr(header, finding(), verdict=verdict, previous=first))
    assert amended.SOPInstanceUID not in (first.SOPInstanceUID, SOURCE_UID)
    (predecessor,) = [ref for study in amended.PredecessorDocumentsSequence for series in study.ReferencedSeriesSequence
                      for ref in series.ReferencedSOPSequence]
    assert predecessor.ReferencedSOPInstanceUID == first.SOPInstanceUID
    lesion = amended.content.get_image_measurement_groups()[0]
    evaluations = {e.name.value: e.value.value for e in lesion.get_qualitative_evaluations()}
    assert evaluations[snomed_codes.CLINICIAN_VERDICT.value] == "400010006"


def test_the_source_header_is_not_changed():
    header = source_header()
    before = pydicom.Dataset(header)
    build_sr(header, finding())
    assert header == before
