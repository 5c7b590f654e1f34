"""What starts a retraining: spans landing, enough new verdicts, the interval, and what the run says started it."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from review_workload import PASSWORD

from dermflow.config import load_config
from dermflow.orchestration import airflow_dag_factory
from dermflow.orchestration.retrain_triggers import LastIngest, started_by, too_soon, training_data_asset, whats_new
from dermflow.review import add_user, open_review_database, record_verdict

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def archive(root):
    images = root / "ISIC_2019_Training_Input"
    images.mkdir(parents=True)
    (images / "a.jpg").write_bytes(b"x")
    (root / "ISIC_2019_Training_GroundTruth.csv").write_text("image\n")
    (root / "ISIC_2019_Training_Metadata.csv").write_text("image\n")


@pytest.fixture
def setup(tmp_path):
    archive(tmp_path / "data")
    database = f"sqlite:///{tmp_path}/review.sqlite"
    db = open_review_database(database)
    add_user(db, "alice", "reviewer", PASSWORD)
    cfg = load_config(None, [f"data.data_root={tmp_path / 'data'}", f"review.database_url={database}",
                             f"paths.work_dir={tmp_path / 'work'}", "retrain.min_new_verdicts=3"])
    yield cfg, db
    db.close()


def verdicts(db, n, basis="histopathology", start=0):
    for k in range(start, start + n):
        record_verdict(db, reviewer="alice", sha256=f"{k:064x}", diagnosis="NV", basis=basis)


def test_the_interval_holds_back_a_run_that_comes_too_soon():
    cfg = load_config(None, ["retrain.min_interval_hours=24"])
    recent = LastIngest([], NOW - timedelta(hours=2))
    assert "2.0 h ago" in too_soon(cfg, recent, NOW) and "min_interval_hours=24" in too_soon(cfg, recent, NOW)
    assert too_soon(cfg, LastIngest([], NOW - timedelta(hours=25)), NOW) is None
    assert too_soon(cfg, None, NOW) is None
    assert too_soon(load_config(None, ["retrain.min_interval_hours=0"]), recent, NOW) is None


def test_enough_new_training_verdicts_or_a_landed_span_call_for_a_retraining(setup, monkeypatch):
    cfg, db = setup
    from dermflow.orchestration import retrain_triggers

    ingested = [{"name": "base", "content": "0" * 16}]
    monkeypatch.setattr(retrain_triggers, "last_ingest", lambda cfg: LastIngest(ingested, NOW))
    assert whats_new(cfg).landed == ["base"], "the base's files are not those recorded"
    from dermflow.isic.span_layout import content_digest, list_spans

    [base] = list_spans(cfg.data.data_root, cfg.data)[0]
    ingested[0]["content"] = content_digest(base, cfg.data)[:16]
    verdicts(db, 2)
    verdicts(db, 5, basis="single_expert", start=10)  # not a training basis
    news = whats_new(cfg)
    assert (news.landed, news.verdicts, news.reasons) == ([], 2, [])
    verdicts(db, 1, start=20)
    news = whats_new(cfg)
    assert news.reasons == ["3 new verdict(s) since the start (retrain.min_new_verdicts=3)"]
    marker = cfg.data.data_root / "spans" / "reviewed"
    archive(marker)
    (marker / "span.json").write_text(json.dumps({"kind": "reviewed", "verdicts_until": datetime.now(timezone.utc).isoformat()}))
    news = whats_new(cfg)
    assert news.verdicts == 0 and news.landed == ["reviewed"] and news.reasons == ["span(s) landed: reviewed"]


def test_the_watcher_task_emits_the_event_with_its_reason_or_is_skipped(setup, monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    from dermflow.orchestration import retrain_triggers

    cfg, db = setup
    config_file = cfg.data.data_root.parent / "dermflow.yaml"
    config_file.write_text(json.dumps(json.loads(cfg.to_json())))
    monkeypatch.setattr(airflow_dag_factory, "run_time_config_path", lambda path: path)
    monkeypatch.setattr(retrain_triggers, "landed_spans", lambda cfg, last: [])
    events = defaultdict(SimpleNamespace)
    with pytest.raises(AirflowSkipException, match="0 new verdict.* of the 3 needed"):
        airflow_dag_factory._watch_training_data(str(config_file), outlet_events=events)
    verdicts(db, 3)
    extra = airflow_dag_factory._watch_training_data(str(config_file), outlet_events=events)
    assert events[training_data_asset(cfg)].extra == extra and extra["new_verdicts"] == 3 and "3 new verdict" in extra["reason"]


def test_the_run_says_what_started_it():
    event = SimpleNamespace(extra={"reason": "24 new verdict(s) since the start"})
    asset = {"dag_run": SimpleNamespace(run_type="asset_triggered"), "triggering_asset_events": {"a": [event]}}
    assert started_by(asset) == ("asset_triggered", "an asset event: 24 new verdict(s) since the start")
    assert started_by({"dag_run": SimpleNamespace(run_type="scheduled")})[1] == "the schedule (airflow.schedule)"
    assert started_by({"dag_run": SimpleNamespace(run_type="manual")}) == ("manual", "a manual trigger")


def test_a_scheduled_run_too_soon_after_the_last_ingest_is_skipped_a_manual_one_is_not(setup, monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    from dermflow.orchestration import retrain_triggers

    cfg, _ = setup
    monkeypatch.setattr(retrain_triggers, "last_ingest", lambda cfg: LastIngest([], datetime.now(timezone.utc)))
    with pytest.raises(AirflowSkipException, match="not retraining now: the last ingest was 0.0 h ago"):
        retrain_triggers.prepare_training_data(cfg, {"dag_run": SimpleNamespace(run_type="scheduled")})
    done = retrain_triggers.prepare_training_data(cfg, {"dag_run": SimpleNamespace(run_type="manual")})
    assert done["started_by"] == "a manual trigger" and done["reviewed_span"]["images"] == 0
