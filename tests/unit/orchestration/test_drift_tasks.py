"""The scoring DAG's drift tasks, run as Airflow runs them but without a scheduler (a fake task context)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from airflow.sdk import Asset

from dermflow.config import load_config
from dermflow.orchestration import drift_tasks
from dermflow.orchestration.airflow_dag_factory import build_score_dag

NOTIFIED: list[dict] = []


def record_notification(context) -> None:
    """A notifier for these tests, named by its dotted path as drift.notifier would name it."""
    NOTIFIED.append(dict(context["drift"]))


def broken_notifier(context) -> None:
    raise ConnectionError("the chat server is down")


DRIFT = {
    "status": "checked", "drift_detected": True, "out_of_scope_rate": 0.4, "audit_share": 0.2,
    "note": "DRIFT in 1 of 12 features ...",
    "features": [
        {"feature": "mean_brightness", "comparator": "jensen_shannon_divergence", "distance": 0.31, "threshold": 0.1,
         "drifted": True},
        {"feature": "width", "comparator": "jensen_shannon_divergence", "distance": 0.01, "threshold": 0.1, "drifted": False},
    ],
}


class FakeTaskInstance:
    def __init__(self, shards: list[dict]):
        self.shards, self.pushed = shards, {}

    def xcom_pull(self, task_ids: str, key: str = "return_value"):
        return self.shards if key == "return_value" else self.pushed[(task_ids, key)]

    def xcom_push(self, key: str, value) -> None:
        self.pushed[(drift_tasks.CHECK_TASK, key)] = value


class Outlets(dict):
    def __missing__(self, asset):
        self[asset] = type("Accessor", (), {"extra": None})()
        return self[asset]


def _context(tmp_path: Path, drift: dict | None, notifier: str = "") -> dict:
    output = tmp_path / "scores"
    (output / "runs").mkdir(parents=True, exist_ok=True)
    if drift is not None:
        (output / "runs" / "run_1.json").write_text(json.dumps({"run_id": "run_1", "drift": drift}))
    shards = [{"output": str(output), "run_id": "run_1", "model": "/reg/m/v1", "model_version": "v1", "manifest": "x"}]
    asset = drift_tasks.drift_asset("m", output)
    return {"ti": FakeTaskInstance(shards), "outlet_events": Outlets(), "task": type("T", (), {"outlets": [asset]})(),
            "asset": asset}


@pytest.fixture
def no_subprocess(monkeypatch):
    commands = []
    monkeypatch.setattr("dermflow.orchestration.task_commands.stream_command", commands.append)
    monkeypatch.setattr("dermflow.orchestration.task_commands.run_time_config_path", lambda path: path)  # no Variable
    return commands


def test_the_check_runs_dermflow_drift_once_and_follows_drift_detected_only_on_drift(tmp_path, no_subprocess):
    context = _context(tmp_path, DRIFT)
    assert drift_tasks.check_drift("c.yaml", "list_shards", **context) == drift_tasks.DETECTED_TASK
    [command] = no_subprocess
    assert command[1:4] == ["-m", "dermflow.cli", "drift"]
    assert dict(zip(command[4::2], command[5::2])) == {
        "--output": str(tmp_path / "scores"), "--run-id": "run_1", "--model": "/reg/m/v1", "--config": "c.yaml"}
    quiet = _context(tmp_path / "q", {**DRIFT, "drift_detected": False, "note": "no drift: ..."})
    assert drift_tasks.check_drift(None, "list_shards", **quiet) is None
    unchecked = _context(tmp_path / "u", {"status": "no_baseline", "drift_detected": None, "note": "no drift baseline"})
    assert drift_tasks.check_drift(None, "list_shards", **unchecked) is None


def test_drift_detected_emits_the_asset_event_with_the_reason_and_calls_the_notifier(tmp_path, no_subprocess):
    context = _context(tmp_path, DRIFT)
    drift_tasks.check_drift(None, "list_shards", **context)
    NOTIFIED.clear()
    extra = drift_tasks.drift_detected(f"{__name__}.record_notification", **context)
    assert context["outlet_events"][context["asset"]].extra == extra
    assert extra["drifted_features"] == ["mean_brightness"]
    assert extra["distances"] == {"mean_brightness": {"comparator": "jensen_shannon_divergence", "distance": 0.31,
                                                       "threshold": 0.1}}
    assert (extra["run_id"], extra["model_version"], extra["audit_share"]) == ("run_1", "v1", 0.2)
    assert NOTIFIED == [extra]


def test_a_failing_notifier_is_logged_and_the_task_still_succeeds(tmp_path, no_subprocess, caplog):
    context = _context(tmp_path, DRIFT)
    drift_tasks.check_drift(None, "list_shards", **context)
    with caplog.at_level(logging.ERROR):
        extra = drift_tasks.drift_detected(f"{__name__}:broken_notifier", **context)
    assert context["outlet_events"][context["asset"]].extra == extra
    assert "drift notifier" in caplog.text and "ConnectionError" in caplog.text


def test_the_default_notifier_is_one_warning_line_naming_the_run_and_distances(caplog):
    cfg = load_config()
    notifier = drift_tasks.resolve_notifier(cfg.drift.notifier)
    extra = drift_tasks.event_extra(DRIFT, "run_1", "/out", "v1")
    with caplog.at_level(logging.WARNING):
        notifier({"drift": extra})
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "DRIFT in scoring run run_1" in record.getMessage() and "mean_brightness 0.310 > 0.1" in record.getMessage()


def test_an_airflow_notifier_instance_is_called_with_the_context(tmp_path):
    from airflow.sdk import BaseNotifier

    class Chat(BaseNotifier):
        template_fields = ("text",)

        def __init__(self, text):
            super().__init__()
            self.text = text

        def notify(self, context):
            NOTIFIED.append({"text": self.text})

    globals()["chat"] = Chat("drift in {{ drift.run_id }}: {{ drift.drifted_features | join(', ') }}")
    NOTIFIED.clear()
    drift_tasks.resolve_notifier(f"{__name__}.chat")({"drift": drift_tasks.event_extra(DRIFT, "run_1", "/o", "v1")})
    assert NOTIFIED == [{"text": "drift in run_1: mean_brightness"}]


def test_the_drift_detected_task_declares_the_drift_asset_and_the_configured_notifier(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"airflow: {{score_output: {tmp_path}/scores}}\ndrift: {{notifier: my.alerts.notify}}\n")
    dag = build_score_dag("score_test", config_path=config)
    task = dag.get_task("drift_detected")
    assert task.outlets == [Asset(name="dermflow-drift-dermflow_mobilenet_v2", uri=(tmp_path / "scores" / "monitoring").as_uri())]
    assert task.op_kwargs["notifier"] == "my.alerts.notify"
