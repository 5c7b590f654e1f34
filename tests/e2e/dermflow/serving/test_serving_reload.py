"""A new model without a restart, on purpose only: pinned stays, --follow-latest and the reload call switch."""
from __future__ import annotations

import json

import pytest

from serving_inputs import LOOPBACK_URL, copy_registry, serve_config

pytestmark = pytest.mark.e2e

SECOND = "29991231T235959Z"


def _admin_token(cfg) -> str:
    from dermflow.review import add_user, issue_api_token, open_configured_review_database

    db = open_configured_review_database(cfg.review)
    try:
        add_user(db, "ada", "admin", "ada-admins-9012")
        return issue_api_token(db, "ada", "test")
    finally:
        db.close()


def test_pinned_stays_and_follow_latest_switches(scoring_model, scored_run, tmp_path):
    from fastapi.testclient import TestClient

    from dermflow.registry import publish_version, resolve_model
    from dermflow.serving.app_factory import create_app

    registry = copy_registry(scoring_model, tmp_path / "registry")
    first = resolve_model(registry)
    image = scored_run.good["odd/lesion.png"]
    pinned_cfg = serve_config(tmp_path / "pinned")
    follow_cfg = serve_config(tmp_path / "follow", "serve.follow_latest=true", "serve.follow_interval_seconds=0.01")
    with TestClient(create_app(pinned_cfg, str(registry)), base_url=LOOPBACK_URL) as pinned, \
            TestClient(create_app(follow_cfg, str(registry)), base_url=LOOPBACK_URL) as follow:
        for client in (pinned, follow):
            assert client.post("/api/v1/predict", files={"file": ("a.png", image)}).json()["model"]["version"] == first.version

        publish_version(
            registry, first.name, first.saved_model_dir, first.keras_file, first.labels, metrics={"pushed": "second"},
            provenance={"test": "second"}, config_json=json.dumps(first.read_json("config.json")), version=SECOND,
        )
        answer = pinned.post("/api/v1/predict", files={"file": ("a.png", image)})
        assert answer.json()["model"]["version"] == first.version and answer.headers["X-Model-Version"] == first.version
        assert pinned.get("/api/v1/model").json()["version"] == first.version

        answer = follow.post("/api/v1/predict", files={"file": ("a.png", image)})
        assert answer.json()["model"]["version"] == SECOND and answer.headers["X-Model-Version"] == SECOND
        assert follow.get("/api/v1/model").json()["provenance"] == {"test": "second"}

        # The admin's reload call moves a pinned server on purpose.
        token = _admin_token(pinned_cfg)
        assert pinned.post("/api/v1/reload").status_code == 401
        reloaded = pinned.post("/api/v1/reload", headers={"Authorization": f"Bearer {token}"}).json()
        assert reloaded == {"model": {"name": first.name, "version": SECOND}, "previous_version": first.version}
        assert pinned.post("/api/v1/predict", files={"file": ("a.png", image)}).json()["model"]["version"] == SECOND
