import pytest

from dermflow.clinical import dicomweb_source as source
from dermflow.clinical.dicomweb_credentials import DicomwebAuth, dicomweb_auth
from dermflow.clinical.dicomweb_source import DicomwebInputError, parse_dicomweb_input

STUDY = "1.2.826.0.1.3680043.8.498.11"


def test_a_study_input_and_its_instances():
    spec = parse_dicomweb_input(f"dicomweb://pacs:8042/dicom-web/studies/{STUDY}")
    assert (spec.base_url, spec.study, spec.series) == ("http://pacs:8042/dicom-web", STUDY, "")
    ref = source.InstanceRef(spec.base_url, STUDY, "1.2.3", "1.2.4")
    assert source.instance_ref(ref.url) == ref
    assert ref.url == f"dicomweb://pacs:8042/dicom-web/studies/{STUDY}/series/1.2.3/instances/1.2.4"
    assert STUDY not in ref.hashed_path and ref.hashed_path.startswith("dicomweb/") and ref.hashed_path.endswith(".dcm")


def test_query_forms_and_https():
    query = parse_dicomweb_input("dicomwebs://pacs/wado/instances?StudyDate=20260101&PatientID=X1")
    assert query.base_url == "https://pacs/wado" and query.level == "instances"
    assert dict(query.filters) == {"StudyDate": "20260101", "PatientID": "X1"}
    studies = parse_dicomweb_input("dicomweb://pacs/studies?ModalitiesInStudy=XC")
    assert (studies.base_url, studies.level) == ("http://pacs", "studies")
    series = parse_dicomweb_input(f"dicomweb://pacs/studies/{STUDY}/series/9.8")
    assert (series.study, series.series) == (STUDY, "9.8")


@pytest.mark.parametrize("spec", ["dicomweb://pacs/dicom-web", "dicomweb://pacs/studies", "dicomweb://pacs/patients/1",
                                  "dicomweb:///studies/1", f"dicomweb://pacs/studies/{STUDY}/instances/1"])
def test_malformed_inputs_are_refused(spec):
    with pytest.raises(DicomwebInputError):
        parse_dicomweb_input(spec)


def test_redacted_inputs_hide_uids_and_query_values():
    assert STUDY not in source.redact(f"dicomweb://pacs/dw/studies/{STUDY}")
    assert "X1" not in source.redact("dicomweb://pacs/dw/instances?PatientID=X1")
    assert source.redact("/data/archive") == "/data/archive"


def test_a_multipart_body_gives_its_first_part():
    body = b"--b1\r\nContent-Type: application/dicom\r\n\r\nDICMDATA\r\n--b1--\r\n"
    assert source._single_part(body, 'multipart/related; type="application/dicom"; boundary=b1') == b"DICMDATA"


def test_credentials_come_from_the_environment_or_an_airflow_connection():
    assert dicomweb_auth(None, {}) is None
    assert dicomweb_auth(None, {"DERMFLOW_DICOMWEB_TOKEN": "t"}) == DicomwebAuth(token="t")
    assert dicomweb_auth("pacs", {"DERMFLOW_DICOMWEB_USERNAME": "u", "DERMFLOW_DICOMWEB_PASSWORD": "p",
                                  "AIRFLOW_CONN_PACS": "http://x:y@h"}) == DicomwebAuth("u", "p")
    assert dicomweb_auth("pacs", {"AIRFLOW_CONN_PACS": "http://us%40er:p%2Fw@pacs:8042"}) == DicomwebAuth("us@er", "p/w")
    assert dicomweb_auth("pacs", {"AIRFLOW_CONN_PACS": '{"conn_type": "http", "login": "a", "password": "b"}'}) == DicomwebAuth("a", "b")
    assert "p/w" not in repr(DicomwebAuth("u", "p/w")) and "p/w" not in str(DicomwebAuth("u", "p/w"))
