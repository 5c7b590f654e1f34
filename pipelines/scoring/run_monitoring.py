"""A scoring run's drift check, once over the whole run: read its rows, judge them, record what was found.

    drift = check_and_record_run(cfg, output, run_id, registered)   # the run summary's "drift" section

``run_scoring`` calls it after publishing a run scored by one command. The shards of a sharded run
skip it (each saw part of the run); ``dermflow drift`` (the scoring DAG's ``check_drift`` task, after
``reconcile``) calls it once over every shard's rows. It writes
``<output>/monitoring/{runs,features}/run_id=<id>/*.pq`` (``schemas/monitoring_schema.py``) and the
``drift`` section of ``<output>/runs/<run_id>.json``; the judgement is ``dermflow.monitoring.run_drift``.
"""
from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from dermflow.config import DermflowConfig
from dermflow.monitoring.drift_baseline import read_drift_baseline
from dermflow.monitoring.drift_features import FEATURE_COLUMNS
from dermflow.monitoring.monitoring_reader import EXTENSION, FEATURES_TABLE, MONITORING_DIR, RUNS_TABLE
from dermflow.monitoring.run_drift import RunDrift, check_run
from dermflow.pipelines.scoring.scored_index import model_version_dir
from dermflow.pipelines.scoring.staged_output import PREDICTIONS, PREDICTIONS_EXTENSION, write_bytes_atomically
from dermflow.schemas.monitoring_schema import MONITORING_FEATURES_SCHEMA, MONITORING_RUNS_SCHEMA
from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA

_LOG = logging.getLogger("dermflow.scoring.drift")
RUNS_FOLDER = "runs"
DEFERRED = "deferred"


def read_run_rows(output: str, run_id: str, model_version: str) -> pa.Table:
    """The monitored columns of ``run_id``'s prediction rows (every shard's), scored by ``model_version``."""
    folder = model_version_dir(FileSystems.join(output, PREDICTIONS), model_version)
    pattern = FileSystems.join(folder, "**" + PREDICTIONS_EXTENSION)
    files = [m.path for m in FileSystems.match([pattern])[0].metadata_list
             if FileSystems.split(m.path)[1].startswith(f"part-{run_id}-")]
    empty = pa.schema([PREDICTIONS_SCHEMA.field(name) for name in FEATURE_COLUMNS]).empty_table()
    if not files:
        return empty
    dataset = ds.dataset(files, format="parquet", schema=PREDICTIONS_SCHEMA)  # older files lack the colour columns
    return dataset.to_table(columns=list(FEATURE_COLUMNS), filter=ds.field("run_id") == run_id)


def check_and_record_run(cfg: DermflowConfig, output: str, run_id: str, registered) -> dict:
    """Judges the run against ``registered``'s baseline, writes the monitoring tables; returns the summary section."""
    rows = read_run_rows(str(output), run_id, registered.version)
    drift = check_run(rows, read_drift_baseline(registered.saved_model_dir), cfg.drift,
                      f"{registered.name}/{registered.version}")
    checked_at = datetime.now(timezone.utc)
    where = write_monitoring(str(output), run_id, drift, registered.name, registered.version, checked_at)
    (_LOG.warning if drift.drift_detected else _LOG.info)("run %s: %s", run_id, drift.note)
    return {**drift.summary(), "checked_at": checked_at.isoformat(timespec="seconds"), "monitoring_dir": where}


def deferred_drift(shard: str) -> dict:
    """The drift section of one shard's summary: the whole run is checked after reconcile."""
    return {"status": DEFERRED, "drift_detected": None,
            "note": f"{shard} is one shard of its run: the run is checked once, over every shard, after reconcile "
                    "(the scoring DAG's check_drift task, or dermflow drift --run-id)"}


def failed_drift(error: BaseException) -> dict:
    return {"status": "error", "drift_detected": None,
            "note": f"drift check failed: {type(error).__name__}: {error} (the predictions are published; "
                    "re-check with dermflow drift --run-id)"}


def write_monitoring(output: str, run_id: str, drift: RunDrift, model_name: str, model_version: str, checked_at) -> str:
    """Both monitoring tables of the run (replacing an earlier check of it); returns the monitoring folder."""
    root = FileSystems.join(output, MONITORING_DIR)
    run_table = pa.Table.from_pylist([drift.run_row(model_name, model_version, checked_at)], schema=MONITORING_RUNS_SCHEMA)
    feature_table = pa.Table.from_pylist(drift.feature_rows(model_version, checked_at), schema=MONITORING_FEATURES_SCHEMA)
    for table, folder, prefix in ((run_table, RUNS_TABLE, "run"), (feature_table, FEATURES_TABLE, "features")):
        partition = FileSystems.join(root, folder, f"run_id={run_id}")
        if not FileSystems.exists(partition):
            FileSystems.mkdirs(partition)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="snappy")
        write_bytes_atomically(FileSystems.join(partition, f"{prefix}-{run_id}{EXTENSION}"), buffer.getvalue())
    return root


def run_summary_path(output: str, run_id: str) -> str:
    return FileSystems.join(str(output), RUNS_FOLDER, f"{run_id}.json")


def read_run_summary(output: str, run_id: str) -> dict:
    """``<output>/runs/<run_id>.json``, or ``{}`` when the run has none (a sharded run before its check)."""
    path = run_summary_path(output, run_id)
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        return json.loads(handle.read().decode("utf-8"))


def record_drift_in_run_summary(output: str, run_id: str, registered, drift: dict) -> str:
    """Puts ``drift`` into ``<output>/runs/<run_id>.json`` (made for a sharded run); returns its path."""
    path = run_summary_path(output, run_id)
    summary = read_run_summary(output, run_id) or {
        "run_id": run_id, "model_name": registered.name, "model_version": registered.version, "output": str(output),
    }
    summary.update(drift=drift, summary_json=path)
    write_bytes_atomically(path, (json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8"))
    return path


def drift_lines(drift: dict) -> list[str]:
    """The console's drift lines of a run summary."""
    if not drift:
        return []
    lines = [f"  drift       : {drift.get('note', drift.get('status', ''))}"]
    if drift.get("monitoring_dir"):
        lines.append(f"  monitoring  : {drift['monitoring_dir']}  (Parquet *.pq: runs/, features/)")
    return lines


def recheck_run(cfg: DermflowConfig, output: str, run_id: str, registered) -> dict:
    """``dermflow drift``: checks a published run (every shard of it), records it; returns the run's summary."""
    drift = check_and_record_run(cfg, output, run_id, registered)
    path = record_drift_in_run_summary(output, run_id, registered, drift)
    return {**read_run_summary(output, run_id), "summary_json": path}
