"""The scoring DAG's drift tasks: check the whole run once, and tell people when it drifted.

    reconcile  -->  check_drift  --(only when a threshold is crossed)-->  drift_detected

* ``check_drift`` (a branch) runs ``dermflow drift --run-id RUN`` in a subprocess (TensorFlow and TFDV stay
  out of the worker's process): every shard's rows against the model's baseline, written to
  ``<output>/monitoring/`` and ``<output>/runs/<run>.json``. It follows ``drift_detected`` only when the run
  drifted; otherwise ``drift_detected`` is skipped, and the log says why (no drift, no baseline, too few images).
* ``drift_detected`` emits an event of the drift asset (:func:`drift_asset`; its ``extra`` holds the run,
  the drifted features, their distances and thresholds) and calls the notifier named by ``drift.notifier``
  with the task context, where ``context["drift"]`` is that same ``extra``. Airflow sends an outlet's
  events only when its task succeeds, so a notifier that fails is logged and the task still succeeds.

Drift does not retrain: it raises the run's random-audit share in the review queue (``drift.audit_share``),
so that clinicians' labels arrive; those labels are what retraining needs.
"""
from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

from airflow.sdk import Asset

log = logging.getLogger(__name__)

CHECK_TASK = "check_drift"
DETECTED_TASK = "drift_detected"
DRIFT_XCOM = "drift"


def drift_asset(model_name: str, score_output: str | Path) -> Asset:
    """The asset a drifted scoring run updates: the monitoring folder of the DAG's output."""
    folder = (Path(score_output) / "monitoring").resolve()
    return Asset(name=f"dermflow-drift-{model_name}", uri=folder.as_uri())


def drift_command(output: str, run_id: str, model: str, config_path: str | None) -> list[str]:
    command = [sys.executable, "-m", "dermflow.cli", "drift", "--output", output, "--run-id", run_id, "--model", model]
    return command + (["--config", config_path] if config_path else [])


def read_run_drift(output: str, run_id: str) -> dict:
    """The ``drift`` section of ``<output>/runs/<run_id>.json`` (``{}`` when the run has none)."""
    path = Path(output) / "runs" / f"{run_id}.json"
    return json.loads(path.read_text(encoding="utf-8")).get("drift", {}) if path.is_file() else {}


def event_extra(drift: dict, run_id: str, output: str, model_version: str) -> dict[str, Any]:
    """What the asset event and the notifier carry: the run, and each drifted feature's distance and threshold."""
    drifted = [f for f in drift.get("features", []) if f.get("drifted")]
    return {
        "run_id": run_id, "output": output, "model_version": model_version,
        "drifted_features": [f["feature"] for f in drifted],
        "distances": {f["feature"]: {"comparator": f["comparator"], "distance": f["distance"], "threshold": f["threshold"]}
                      for f in drifted},
        "out_of_scope_rate": drift.get("out_of_scope_rate"), "audit_share": drift.get("audit_share"),
        "note": drift.get("note", ""),
    }


def check_drift(config_path: str | None, list_task: str, **context: Any) -> str | None:
    """Branch callable: ``drift_detected`` when the run drifted, else nothing (it is skipped)."""
    from dermflow.orchestration.task_commands import run_time_config_path, stream_command

    first = context["ti"].xcom_pull(task_ids=list_task)[0]
    stream_command(drift_command(first["output"], first["run_id"], first["model"], run_time_config_path(config_path)))
    drift = read_run_drift(first["output"], first["run_id"])
    extra = event_extra(drift, first["run_id"], first["output"], first["model_version"])
    context["ti"].xcom_push(key=DRIFT_XCOM, value=extra)
    if drift.get("drift_detected"):
        log.warning("run %s: %s", first["run_id"], drift.get("note"))
        return DETECTED_TASK
    log.info("run %s: %s; %s is skipped", first["run_id"], drift.get("note", "no drift check recorded"), DETECTED_TASK)
    return None


def drift_detected(notifier: str, **context: Any) -> dict:
    """Emits the drift asset's event and calls the notifier; succeeds even when the notifier fails."""
    extra = context["ti"].xcom_pull(task_ids=CHECK_TASK, key=DRIFT_XCOM)
    for outlet in context["task"].outlets:
        if isinstance(outlet, Asset):
            context["outlet_events"][outlet].extra = extra
    context["drift"] = extra
    try:
        resolve_notifier(notifier)(context)
    except Exception:  # the event must still go out: a task sends its outlets' events only when it succeeds
        log.exception("the drift notifier %s failed; the drift asset event is emitted anyway", notifier)
    return extra


def resolve_notifier(dotted: str) -> Callable[[Any], Any]:
    """``package.module.attribute`` or ``package.module:attribute`` -> the object (a notifier or a function)."""
    module, _, name = dotted.replace(":", ".").rpartition(".")
    target = getattr(importlib.import_module(module), name)
    if not callable(target):
        raise TypeError(f"drift.notifier {dotted} is not callable")
    return target


def log_drift(context: Any) -> None:
    """The default notifier (``drift.notifier``): one warning line in the task log."""
    drift = context.get("drift") or {}
    distances = ", ".join(f"{name} {d['distance']:.3f} > {d['threshold']:g}" for name, d in drift.get("distances", {}).items())
    log.warning("DRIFT in scoring run %s (model version %s): %s; review audit share %s; see %s/monitoring/",
                drift.get("run_id"), drift.get("model_version"), distances or drift.get("note"), drift.get("audit_share"),
                drift.get("output"))
