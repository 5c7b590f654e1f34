"""The security findings of issue 26, against the app: Host allow-list, errors as JSON with headers,
no server paths, no echoed bytes, form caps, and the OpenAPI schema of predict."""
from __future__ import annotations

import pytest

from serving_inputs import LOOPBACK_URL, serve_config

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = ("X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy", "X-Model-Version")


def _is_documented_error(response, status: int, reason: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"reason", "message"} and body["message"]
    if reason:
        assert body["reason"] == reason
    for header in SECURITY_HEADERS:
        assert header in response.headers, header


@pytest.mark.parametrize("url", ["/results", "/results.csv", "/results/image/odd/lesion.png", "/", "/api/v1/model"])
def test_a_foreign_host_header_is_refused_everywhere(client, url):
    assert client.get(url).status_code == 200
    _is_documented_error(client.get(url, headers={"Host": "evil.example.com"}), 400, "unknown_host")
    _is_documented_error(client.get(url, headers={"Host": "evil.example.com:8765"}), 400, "unknown_host")
    for name in ("localhost:8765", "127.0.0.1", "[::1]:8765"):
        assert client.get(url, headers={"Host": name}).status_code == 200, name


@pytest.mark.parametrize("page", ["99999999999999999999999", "-1", "abc", "1e3", "5"])
def test_an_out_of_range_page_is_a_400_with_headers(client, page):
    _is_documented_error(client.get("/results", params={"page": page}), 400, "bad_query")


def test_missing_parameters_unknown_routes_and_wrong_methods_answer_json(client):
    _is_documented_error(client.get("/results/thumbnail"), 400, "bad_query")
    _is_documented_error(client.get("/no/such/page"), 404, "not_found")
    _is_documented_error(client.get("/api/v1/predict"), 405, "method_not_allowed")


def test_a_failing_route_is_a_json_500_with_headers(trusted_model, served_holder, scored_run, tmp_path):
    from fastapi.testclient import TestClient

    from dermflow.serving.app_factory import create_app

    app = create_app(serve_config(tmp_path), trusted_model.spec, [scored_run.output], holder=served_holder)

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire at /srv/secret/path")

    app.state.context.store.errors = broken
    with TestClient(app, base_url=LOOPBACK_URL, raise_server_exceptions=False) as failing:
        response = failing.get("/results")
        _is_documented_error(response, 500, "internal_error")
        assert "/srv/secret" not in response.text
        assert failing.get("/healthz").status_code == 200


def test_the_model_call_shows_no_absolute_server_path(client, trusted_model):
    text = client.get("/api/v1/model").text
    assert str(trusted_model.registry) not in text and '"/' not in text and "file:/" not in text


def test_a_rejection_repeats_no_byte_of_the_upload(client):
    response = client.post("/api/v1/predict", files={"file": ("x.bin", b"PATIENT-7 Jane Doe\n", "application/octet-stream")})
    _is_documented_error(response, 422, "not_an_image")
    assert "PATIENT" not in response.text and "Jane" not in response.text


def test_a_form_of_many_fields_is_refused_at_the_cap(client):
    body = b"".join(b"--B\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n" % i for i in range(5000)) + b"--B--\r\n"
    response = client.post("/api/v1/predict", content=body, headers={"Content-Type": "multipart/form-data; boundary=B"})
    _is_documented_error(response, 400, "bad_multipart")


def test_openapi_describes_the_predict_answer_and_its_errors(client):
    schema = client.get("/openapi.json").json()
    responses = schema["paths"]["/api/v1/predict"]["post"]["responses"]
    assert {"200", "400", "413", "422", "500", "503"} <= set(responses)
    answer = responses["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    properties = schema["components"]["schemas"][answer]["properties"]
    assert {"probabilities", "predicted_label", "out_of_scope", "prediction_set", "in_scope_score", "reading"} <= set(properties)
    error = responses["422"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][error]["properties"]) == {"reason", "message"}
