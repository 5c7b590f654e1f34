"""Accounts in the web, against the app: sign-in and its cookie, expiry, the rate limit, CSRF, roles, API tokens,
the verdicts API, and --allow-remote where every route but /healthz needs a user or a token."""
from __future__ import annotations

import base64
import time

import pytest

from serving_inputs import LOOPBACK_URL, PASSWORDS, add_accounts, serve_config, sign_in

pytestmark = pytest.mark.e2e


def _app(trusted_model, served_holder, scored_run, tmp_path, *overrides: str):
    from dermflow.serving.app_factory import create_app

    cfg = serve_config(tmp_path, *overrides)
    add_accounts(cfg)
    return cfg, create_app(cfg, trusted_model.spec, [scored_run.output], [scored_run.inputs], holder=served_holder)


def _token(cfg, name: str) -> str:
    from dermflow.review import issue_api_token, open_configured_review_database

    db = open_configured_review_database(cfg.review)
    try:
        return issue_api_token(db, name, "test")
    finally:
        db.close()


def _verdict(sha256: str, **fields) -> dict:
    return {"sha256": sha256, "diagnosis": "NV", "basis": "histopathology", "queue_reason": "direct",
            "shown": {"model_name": "m", "model_version": "v", "predicted_label": "NV", "probabilities": {"NV": 0.9, "MEL": 0.1}},
            **fields}


def test_the_session_cookie_is_httponly_strict_secure_behind_tls_and_expires(trusted_model, served_holder, scored_run, tmp_path):
    from fastapi.testclient import TestClient

    cfg, app = _app(trusted_model, served_holder, scored_run, tmp_path, "review.session_hours=0.0005")
    with TestClient(app, base_url="https://127.0.0.1:8765") as browser:
        csrf = sign_in(browser, "rita")
        cookie = next(value for name, value in browser.cookies.jar._cookies["127.0.0.1"]["/"].items() if name == "dermflow_session")
        assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.get_nonstandard_attr("SameSite").lower() == "strict"
        assert browser.get("/account/token").status_code == 200 and csrf
        time.sleep(2.0)  # 0.0005 h = 1.8 s
        expired = browser.get("/account/token")
        assert expired.status_code == 401 and expired.json()["reason"] == "unauthorized"


def test_failed_sign_ins_are_rate_limited_and_a_sign_in_form_without_its_token_is_refused(client):
    import re

    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert client.post("/login", data={"name": "ada", "password": PASSWORDS["ada"]}).status_code == 403
    for _ in range(5):
        wrong = client.post("/login", data={"csrf_token": token, "name": "ada", "password": "not-her-password"})
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
        assert "not-her-password" not in wrong.text
    blocked = client.post("/login", data={"csrf_token": token, "name": "ada", "password": PASSWORDS["ada"]},
                          follow_redirects=False)
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
    assert "dermflow_session" not in client.cookies


def test_roles_csrf_and_the_verdicts_api(client, client_config, scored_run):
    rita, vic = _token(client_config, "rita"), _token(client_config, "vic")
    sha = "ab" * 32
    assert client.post("/api/v1/verdicts", json=_verdict(sha)).status_code == 401  # loopback too: a reviewer only
    denied = client.post("/api/v1/verdicts", json=_verdict(sha), headers={"Authorization": f"Bearer {vic}"})
    assert denied.status_code == 403 and denied.json()["reason"] == "forbidden"
    first = client.post("/api/v1/verdicts", json=_verdict(sha, comment="biopsy: Jane Doe"), headers={"Authorization": f"Bearer {rita}"})
    assert first.status_code == 201, first.text
    corrected = client.post("/api/v1/verdicts", json=_verdict(sha, diagnosis="MEL", supersedes=first.json()["verdict"]["id"]),
                            headers={"Authorization": f"Bearer {rita}"})
    assert corrected.status_code == 201 and corrected.json()["verdict"]["supersedes"] == first.json()["verdict"]["id"]
    assert client.get("/api/v1/verdicts", params={"sha256": sha}).status_code == 401
    history = client.get("/api/v1/verdicts", params={"sha256": sha}, headers={"Authorization": f"Bearer {vic}"}).json()["verdicts"]
    assert [(v["diagnosis"], v["current"]) for v in history] == [("MEL", True), ("NV", False)]
    assert "Jane" not in str(history)  # comments only when asked for
    free = client.get("/api/v1/verdicts", params={"sha256": sha, "free_text": "true"}, headers={"Authorization": f"Bearer {vic}"})
    assert free.json()["verdicts"][1]["comment"] == "biopsy: Jane Doe"
    invalid = client.post("/api/v1/verdicts", json=_verdict(sha, diagnosis="OTHER"), headers={"Authorization": f"Bearer {rita}"})
    assert invalid.status_code == 400 and invalid.json()["reason"] == "invalid_verdict"

    row_path = sorted(p for p in scored_run.good if p.startswith("archive/"))[0]
    row = next(r for r in client.get("/results.csv").text.splitlines()[1:] if r.startswith(row_path + ","))
    sha_row, version = row.split(",")[9], row.split(",")[2]
    csrf = sign_in(client, "rita")
    form = {"diagnosis": "BCC", "basis": "follow_up", "model_version": version, "run_id": "serve-test"}
    without = client.post(f"/results/{sha_row}/verdicts", data=form, follow_redirects=False)
    assert without.status_code == 403 and without.json()["reason"] == "csrf_token_missing"
    recorded = client.post(f"/results/{sha_row}/verdicts", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert recorded.status_code == 303 and "recorded=" in recorded.headers["location"]
    page = client.get(recorded.headers["location"].split("#")[0])
    assert "basal cell carcinoma (BCC)" in page.text and "follow up" in page.text
    stored = client.get("/api/v1/verdicts", params={"sha256": sha_row}, headers={"Authorization": f"Bearer {rita}"}).json()
    assert stored["verdicts"][0]["shown"]["model_version"] == version and stored["verdicts"][0]["image_path"] == row_path
    client.post("/logout", data={"csrf_token": csrf})
    client.cookies.clear()


def test_an_upload_kept_with_its_verdict_is_said_and_served(client, client_config, scored_run):
    rita = _token(client_config, "rita")
    answer = client.post("/api/v1/predict", files={"file": ("x.png", scored_run.good["odd/lesion.png"])}).json()
    body = _verdict(answer["sha256"], queue_reason="upload", keep_image_jpeg_base64=answer["image_jpeg_base64"],
                    shown={"model_name": answer["model"]["name"], "model_version": answer["model"]["version"],
                           "predicted_label": answer["predicted_label"], "probabilities": answer["probabilities"]})
    recorded = client.post("/api/v1/verdicts", json=body, headers={"Authorization": f"Bearer {rita}"})
    assert recorded.status_code == 201 and recorded.json()["image_kept"] is True
    kept = client.get(f"/review/kept/{answer['sha256']}.jpg")
    assert kept.status_code == 200 and kept.content[:3] == b"\xff\xd8\xff"
    assert client.get(f"/results/{answer['sha256']}").status_code == 200  # the page of an upload kept with a verdict
    not_an_image = _verdict("cd" * 32, keep_image_jpeg_base64=base64.b64encode(b"patient notes").decode())
    refused = client.post("/api/v1/verdicts", json=not_an_image, headers={"Authorization": f"Bearer {rita}"})
    assert refused.status_code == 400 and "patient notes" not in refused.text


def test_with_allow_remote_every_route_but_healthz_needs_a_user_or_a_token(trusted_model, served_holder, scored_run, tmp_path):
    from fastapi.testclient import TestClient

    cfg, app = _app(trusted_model, served_holder, scored_run, tmp_path, "serve.host=0.0.0.0", "serve.allow_remote=true",
                    "serve.allowed_hosts=[derm.example.org]")
    viewer = _token(cfg, "vic")
    with TestClient(app, base_url="https://derm.example.org") as remote:
        assert remote.get("/healthz").status_code == 200
        for url in ("/", "/results", "/results.csv", "/review/queue", "/api/v1/model", "/model/report", "/docs"):
            answer = remote.get(url, headers={"Accept": "application/json"})
            assert answer.status_code == 401 and answer.json()["reason"] == "unauthorized", url
            assert remote.get(url, headers={"Authorization": f"Bearer {viewer}"}).status_code in (200, 303), url
        page = remote.get("/results", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=%2Fresults")
        assert remote.get("/login").status_code == 200 and remote.get("/static/style.css").status_code == 200
        assert remote.post("/api/v1/predict", files={"file": ("a.png", scored_run.good["odd/lesion.png"])}).status_code == 401
        sign_in(remote, "vic")
        assert remote.get("/results").status_code == 200
        assert remote.post("/api/v1/reload", headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
        admin = _token(cfg, "ada")
        assert remote.post("/api/v1/reload", headers={"Authorization": f"Bearer {admin}"}).status_code == 200


def test_the_loopback_page_reads_and_uploads_without_an_account(client, scored_run):
    assert client.get("/").status_code == 200 and client.get("/results").status_code == 200
    assert client.get("/review/queue").status_code == 200
    assert client.post("/api/v1/predict", files={"file": ("a.png", scored_run.good["odd/lesion.png"])}).status_code == 200
    assert client.post("/api/v1/reload").status_code == 401  # an admin only, on loopback too
