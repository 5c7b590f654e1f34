import re

from dermflow.clinical import clinical_uids, snomed_codes
from dermflow.config import ISIC_DIAGNOSES


def test_derived_uids_are_valid_deterministic_and_distinct():
    uid = clinical_uids.result_uid("1.2.3", "v1", clinical_uids.SR)
    assert re.fullmatch(r"2\.25\.[1-9][0-9]{0,38}", uid) and len(uid) <= 64
    assert uid == clinical_uids.result_uid("1.2.3 ", "v1", clinical_uids.SR)
    assert len({uid, clinical_uids.result_uid("1.2.3", "v2", clinical_uids.SR),
                clinical_uids.result_uid("1.2.3", "v1", clinical_uids.SEGMENTATION),
                clinical_uids.result_uid("1.2.4", "v1", clinical_uids.SR)}) == 4


def test_every_isic_diagnosis_and_group_has_a_snomed_code():
    for code in ISIC_DIAGNOSES:
        concept = snomed_codes.finding_concept(code)
        assert concept.scheme == "SCT" and concept.value.isdigit() and concept.source
    assert snomed_codes.finding_concept("malignant").value == "21594007"
    assert snomed_codes.finding_concept("benign").value == "30807003"
    other = snomed_codes.finding_concept("lesion_x")
    assert other.scheme == snomed_codes.DERMFLOW_SCHEME and other.scheme.startswith("99")
    assert snomed_codes.finding_concept("MEL").fhir_coding()["system"] == "http://snomed.info/sct"
