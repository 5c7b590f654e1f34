"""The JSON API against the app (FastAPI's TestClient): good and bad files, consistency with batch scoring, security."""
from __future__ import annotations

import base64
import io
import json

import duckdb
import numpy as np
import pytest
from PIL import Image

from support.artefact_reports import ARTEFACT_SUMMARY
from serving_inputs import DICOM_UID, LOOPBACK_URL, PATIENT_ID, PATIENT_NAME, serve_config

pytestmark = pytest.mark.e2e


def _post(client, data: bytes, name: str = "upload.bin", **kwargs):
    return client.post("/api/v1/predict", files={"file": (name, data, "application/octet-stream")}, **kwargs)


@pytest.mark.parametrize("kind", ["jpeg", "png", "dicom"])
def test_a_jpeg_a_png_and_a_dicom_are_read(client, scored_run, trusted_model, kind):
    relative = {"png": "odd/lesion.png", "dicom": "odd/patient.dcm"}.get(kind) or sorted(scored_run.good)[0]
    response = _post(client, scored_run.good[relative], name="x")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "dermflow_mobilenet_v2", "version": trusted_model.version}
    assert response.headers["X-Model-Version"] == trusted_model.version
    assert body["labels"] == trusted_model.labels and list(body["probabilities"]) == trusted_model.labels
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert body["predicted_label"] == max(body["probabilities"], key=body["probabilities"].get)
    height, width = body["gradcam"]["shape"]
    heat = np.asarray(body["gradcam"]["values"])
    assert heat.shape == (height, width) and 0.0 <= heat.min() and heat.max() <= 1.0
    overlay = Image.open(io.BytesIO(base64.b64decode(body["overlay_png_base64"])))
    image = Image.open(io.BytesIO(base64.b64decode(body["image_jpeg_base64"])))
    assert overlay.format == "PNG" and overlay.mode == "RGBA" and image.format == "JPEG"
    alpha = np.asarray(overlay)[..., 3].astype(float)
    assert alpha.max() > alpha.min()  # transparent where the model did not look
    assert "not a diagnosis" in body["notice"]
    assert body["image"]["format"] == kind


def test_no_dicom_value_appears_in_the_response(client, scored_run):
    response = _post(client, scored_run.good["odd/patient.dcm"], name="patient.dcm")
    assert response.status_code == 200
    text = response.text + json.dumps(dict(response.headers))
    for secret in (PATIENT_NAME, "Wilhelmina", PATIENT_ID, DICOM_UID):
        assert secret not in text


def test_every_bad_file_gets_a_4xx_with_the_scoring_reason(client, scored_run):
    errors = dict(duckdb.sql(
        f"SELECT path, reason FROM read_parquet('{scored_run.output}/errors/**/*.pq', hive_partitioning=1)"
    ).fetchall())
    assert errors == {path: reason for path, (_, reason) in scored_run.bad.items()}
    for path, (data, reason) in scored_run.bad.items():
        response = _post(client, data, name=path)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.json()["reason"] == errors[path], path
        assert response.json()["message"]
    assert client.get("/healthz").json()["status"] == "ok"  # and it keeps serving


def test_probabilities_equal_dermflow_score_within_1e_5(client, scored_run):
    rows = duckdb.sql(
        "SELECT path, probabilities, predicted_label, gradcam_in_lesion, attention_off_lesion "
        f"FROM read_parquet('{scored_run.output}/**/*.parquet', hive_partitioning=1)"
    ).fetchall()
    assert len(rows) == len(scored_run.good)
    assert sum(mass is not None for *_, mass, _ in rows) >= len(rows) // 2  # a lesion mask for most images
    for path, probabilities, label, mass, off_lesion in rows:
        body = _post(client, scored_run.good[path], name=path).json()
        assert body["attention_off_lesion"] == off_lesion
        assert (body["gradcam_in_lesion"] is None) == (mass is None)
        if mass is not None:
            assert body["gradcam_in_lesion"] == pytest.approx(mass, abs=1e-5)
        expected = {str(k): float(v) for k, v in dict(probabilities).items()}
        assert list(body["probabilities"]) == list(expected)
        np.testing.assert_allclose(list(body["probabilities"].values()), list(expected.values()), atol=1e-5, rtol=0)
        assert body["predicted_label"] == label


def test_model_health_and_openapi(client, trusted_model):
    model = client.get("/api/v1/model").json()
    assert model["version"] == trusted_model.version and model["labels"] == trusted_model.labels
    assert model["input_size"] == 65
    assert model["provenance"] == {"test": "tests/e2e/conftest.py trusted_model"} and "metrics" in model and "training_data" in model
    trust = model["trust"]  # calibration.json's figures: what the out-of-scope flag can do, and its reasons in words
    assert trust["fitted"] is True and trust["out_of_scope"]["flag"] is not None
    assert trust["out_of_scope_reasons"]["novel"] == "Looks unlike anything the model knows"
    assert model["artefact_check"] == ARTEFACT_SUMMARY == model["metrics"]["artefacts"]
    assert model["artefact_check"]["per_artefact"]["ruler"]["per_class_flip_rate"]["NV"] == 0.05
    health = client.get("/healthz").json()
    assert health["model"]["version"] == trusted_model.version and health["queue"]["size"] > 0
    assert client.get("/docs").status_code == 200
    assert "/api/v1/predict" in client.get("/openapi.json").json()["paths"]


def test_an_oversize_upload_gets_413(trusted_model, served_holder, tmp_path, scored_run):
    from fastapi.testclient import TestClient

    from dermflow.serving.app_factory import create_app

    cfg = serve_config(tmp_path, "serve.max_upload_bytes=50000")
    with TestClient(create_app(cfg, trusted_model.spec, holder=served_holder), base_url=LOOPBACK_URL) as small:
        data = next(iter(scored_run.good.values()))
        assert len(data) < 50000 and _post(small, data).status_code == 200
        response = _post(small, b"\xff\xd8\xff" + b"\0" * 60000)
        assert response.status_code == 413 and response.json()["reason"] == "too_large"


def test_the_reload_call_always_needs_an_admin(client):
    assert client.post("/api/v1/reload").status_code == 401


@pytest.mark.parametrize("url", [
    "/results/image/..%2F..%2F..%2Fetc%2Fpasswd", "/results/image/%2e%2e/%2e%2e/etc/passwd", "/results/image/archive/..%2F..%2Fout",
    "/results/image/%2Fetc%2Fpasswd", "/results/image/escape.jpg", "/results/image/escape_dir/secret.txt",
    "/results/thumbnail?path=../inputs/archive&model_version=x&run_id=y", "/static/..%2F..%2Fapp_factory.py",
])
def test_traversal_gets_404_or_400(client, scored_run, url):
    secret = scored_run.inputs.parent / "secret.jpg"
    if not secret.exists():
        secret.write_bytes(scored_run.good["odd/lesion.png"])
        (scored_run.inputs / "escape.jpg").symlink_to(secret)
        (scored_run.inputs / "escape_dir").symlink_to(scored_run.inputs.parent)
    response = client.get(url)
    assert response.status_code in (400, 404), (url, response.status_code)
    assert client.get("/results/image/odd/lesion.png").status_code == 200  # a file that is inside is served


def test_the_results_browser_lists_filters_and_downloads(client, scored_run, trusted_model):
    page = client.get("/results")
    assert page.status_code == 200
    assert page.text.count('<tr class="prediction') == len(scored_run.good)
    for path, (_, reason) in scored_run.bad.items():
        assert path in page.text and reason in page.text
    csv_all = client.get("/results.csv").text.strip().splitlines()
    assert len(csv_all) == 1 + len(scored_run.good) and csv_all[0].endswith("p_MEL,p_NV,p_BCC")
    labels = {line.split(",")[10] for line in csv_all[1:]}
    label = sorted(labels)[0]
    filtered = client.get("/results", params={"label": label, "sort": "p:MEL"})
    expected = sum(1 for line in csv_all[1:] if line.split(",")[10] == label)
    assert filtered.text.count('<tr class="prediction') == expected
    assert len(client.get("/results.csv", params={"label": label}).text.strip().splitlines()) == 1 + expected
    assert client.get("/results", params={"sort": "p:NOPE"}).status_code == 400
    thumb = client.get("/results/thumbnail", params={
        "path": "odd/patient.dcm", "model_version": trusted_model.version, "run_id": "serve-test"})
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size[0] > 32
    assert client.get("/results/thumbnail", params={"path": "nope.jpg", "model_version": "x", "run_id": "y"}).status_code == 404
