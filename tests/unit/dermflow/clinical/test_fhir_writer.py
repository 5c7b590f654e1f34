"""The FHIR NDJSON of a run parses into the R4B models and carries the Parquet row's probabilities."""
import json
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fhir.resources.R4B import get_fhir_model_class

from support.clinical_fixtures import PATIENT_ID, SOURCE_UID, STUDY_UID, source_header
from dermflow.clinical.fhir_ndjson import FhirShardWriter, publish_fhir
from dermflow.clinical.fhir_writer import DICOM_UID_SYSTEM, SHA256_SYSTEM, ImageIdentity, device_resource, image_resources
from dermflow.clinical.model_finding import ModelFinding
from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA

LABELS = ["MEL", "NV", "BCC"]


def _parquet_rows(tmp_path, count: int) -> list[dict]:
    """Prediction rows written to and read back from Parquet, as the pipeline publishes them."""
    rng = np.random.default_rng(3)
    rows = []
    for index in range(count):
        p = rng.dirichlet([1.0, 1.0, 1.0]).astype(np.float32)
        rows.append({
            "path": f"img{index}.jpg", "sha256": f"{index:064x}", "format": "jpeg", "width": 8, "height": 8,
            "dicom_uid_sha256": None, "model_name": "m", "predicted_label": LABELS[int(p.argmax())],
            "predicted_index": int(p.argmax()), "predicted_probability": float(p.max()),
            "probabilities": list(zip(LABELS, p.tolist())), "in_scope_score": 0.5, "out_of_scope": bool(index % 2),
            "prediction_set": LABELS[: 1 + index % 3], "prediction_set_size": 1 + index % 3,
            "gradcam": [0.0, 0.5, 1.0, 0.25], "gradcam_shape": [2, 2], "gradcam_png": b"",
            "scored_at": datetime(2026, 1, 6, tzinfo=timezone.utc), "run_id": "r1",
        })
    pq.write_table(pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA), tmp_path / "p.parquet")
    return pq.read_table(tmp_path / "p.parquet").to_pylist()


def _ndjson(tmp_path, rows) -> tuple[list[dict], dict]:
    shard = FhirShardWriter(tmp_path / "staging")
    for row in rows:
        shard.add(image_resources(ModelFinding.from_prediction_row(row, "v1"), ImageIdentity.from_sha256(row["sha256"])))
    shard.close()
    counts = publish_fhir(tmp_path / "staging", tmp_path / "fhir", [device_resource("m", "v1", "0.1.0")])
    lines = [line for path in sorted((tmp_path / "fhir").glob("*.ndjson")) for line in path.read_text().splitlines()]
    return [json.loads(line) for line in lines], counts


def test_the_ndjson_parses_into_r4b_and_holds_the_parquet_probabilities(tmp_path):
    rows = _parquet_rows(tmp_path, 3)
    resources, counts = _ndjson(tmp_path, rows)
    assert counts == {"Device": 1, "DiagnosticReport": 3, "Observation": 12}
    models = [get_fhir_model_class(r["resourceType"]).model_validate(r) for r in resources]
    assert {type(m).__module__.split(".")[2] for m in models} == {"R4B"}
    observations = {r["id"]: r for r in resources if r["resourceType"] == "Observation"}
    for row in rows:
        (report,) = [r for r in resources if r["resourceType"] == "DiagnosticReport"
                     and observations[r["result"][0]["reference"].split("/")[1]]["derivedFrom"][0]["identifier"]["value"] == row["sha256"]]
        linked = [observations[ref["reference"].split("/")[1]] for ref in report["result"]]
        (probabilities,) = [o for o in linked if o["code"]["coding"][0]["code"] == "122157"]
        got = {c["code"]["text"].removeprefix("probability of "): c["valueQuantity"]["value"] for c in probabilities["component"]}
        assert got == pytest.approx(dict(row["probabilities"]), abs=1e-6)
        (predicted,) = [o for o in linked if o["code"]["coding"][0]["code"] == "121073"]
        assert predicted["valueCodeableConcept"]["text"] == row["predicted_label"]
        assert predicted["valueCodeableConcept"]["coding"][0]["system"] == "http://snomed.info/sct"
        (scope,) = [o for o in linked if o["code"]["coding"][0]["code"] == "out-of-scope"]
        assert scope["valueBoolean"] == row["out_of_scope"]
        assert all(o["derivedFrom"][0]["identifier"]["system"] == SHA256_SYSTEM and "subject" not in o for o in linked)
        assert all(o["device"]["reference"].startswith("Device/") for o in linked)


def test_a_rerun_writes_the_same_ids_once(tmp_path):
    rows = _parquet_rows(tmp_path, 2)
    shard = FhirShardWriter(tmp_path / "staging")
    for _ in range(2):  # a retried bundle
        for row in rows:
            shard.add(image_resources(ModelFinding.from_prediction_row(row, "v1"), ImageIdentity.from_sha256(row["sha256"])))
        shard.close()
    counts = publish_fhir(tmp_path / "staging", tmp_path / "fhir", [])
    assert counts == {"DiagnosticReport": 2, "Observation": 8}
    assert not list((tmp_path / "staging").glob("*.ndjson"))
    assert json.loads((tmp_path / "fhir" / "manifest.json").read_text())["output"][0]["type"] == "DiagnosticReport"


def test_a_dicom_image_is_identified_by_its_uids_and_patient_id(tmp_path):
    row = _parquet_rows(tmp_path, 1)[0]
    identity = ImageIdentity.from_dicom_header(source_header())
    resources = [json.loads(line) for line in image_resources(ModelFinding.from_prediction_row(row, "v1"), identity, "2.25.1")]
    report = resources[-1]
    assert report["subject"]["identifier"]["value"] == PATIENT_ID
    assert report["imagingStudy"][0]["identifier"] == {"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{STUDY_UID}"}
    assert report["identifier"][0]["value"] == "urn:oid:2.25.1" and report["effectiveDateTime"] == "2026-01-05"
    assert report["basedOn"][0]["identifier"]["value"] == "ACC-1"
    assert resources[0]["derivedFrom"][0]["identifier"]["value"] == f"urn:oid:{SOURCE_UID}"
    assert "Madeup" not in json.dumps(resources)  # the name is not needed in FHIR: the identifier is
