"""Reading a scoring output's drift checks back: for the web page's monitoring view and the review queue.

    runs = monitoring_runs("var/scores")                # one dict per checked run, oldest first (plot these)
    features = run_drift_features("var/scores", run_id)  # one dict per feature compared in that run
    share = audit_share_for_run("var/scores", run_id, default_share=cfg.review.audit_share)

The tables are ``<output>/monitoring/runs/`` and ``<output>/monitoring/features/``
(``schemas/monitoring_schema.py``); an output folder without them (nothing checked yet, or written
before drift checks) reads as no rows, never as an error. pyarrow only: no TensorFlow, no TFDV.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from dermflow.schemas.monitoring_schema import MONITORING_FEATURES_SCHEMA, MONITORING_RUNS_SCHEMA

MONITORING_DIR = "monitoring"
RUNS_TABLE = "runs"
FEATURES_TABLE = "features"
EXTENSION = ".pq"


def table_dir(output: str | Path, table: str) -> Path:
    return Path(output) / MONITORING_DIR / table


def _read(output: str | Path, table: str, schema: pa.Schema, run_id: str | None = None) -> list[dict]:
    folder = table_dir(output, table)
    files = sorted(str(p) for p in folder.glob(f"run_id=*/*{EXTENSION}")) if folder.is_dir() else []
    if run_id is not None:
        files = [f for f in files if Path(f).parent.name == f"run_id={run_id}"]
    if not files:
        return []
    partitioned = schema.append(pa.field("run_id", pa.string()))
    dataset = ds.dataset(files, format="parquet", schema=partitioned,
                         partitioning=ds.partitioning(pa.schema([("run_id", pa.string())]), flavor="hive"),
                         partition_base_dir=str(folder))
    return dataset.to_table().to_pylist()


def _time(row: dict) -> datetime | str:
    return row.get("checked_at") or ""


def monitoring_runs(output: str | Path) -> list[dict]:
    """Every checked run of ``output``, oldest first: ``run_id``, ``checked_at``, ``model_version``,
    ``status``, ``drift_detected``, ``drifted_features``, ``scored``, ``out_of_scope_rate``,
    ``baseline_out_of_scope_rate``, ``audit_share``, ``note``, ... (MONITORING_RUNS_SCHEMA's columns)."""
    return sorted(_read(output, RUNS_TABLE, MONITORING_RUNS_SCHEMA), key=_time)


def run_drift_features(output: str | Path, run_id: str) -> list[dict]:
    """The features compared in ``run_id``, drifted first, then by distance relative to the threshold."""
    rows = _read(output, FEATURES_TABLE, MONITORING_FEATURES_SCHEMA, run_id)
    return sorted(rows, key=lambda r: (not r["drifted"], -(r["distance"] / r["threshold"] if r["threshold"] else 0)))


def run_monitoring(output: str | Path, run_id: str) -> dict | None:
    """The run's monitoring row, or None when the run was never checked."""
    rows = _read(output, RUNS_TABLE, MONITORING_RUNS_SCHEMA, run_id)
    return max(rows, key=_time) if rows else None


def audit_share_for_run(output_dir: str | Path, run_id: str, default_share: float) -> float:
    """The random-audit share the review queue should sample from ``run_id``'s confident rows.

    ``drift.audit_share`` (recorded with the run) when the run's drift check found drift, never below
    ``default_share``; ``default_share`` for a run without drift, not checked, or unknown.
    """
    return audit_share_of(run_monitoring(output_dir, run_id), default_share)


def audit_share_of(row: dict | None, default_share: float) -> float:
    """:func:`audit_share_for_run`'s rule on a monitoring row already read (``monitoring_runs``)."""
    if not row or not row.get("drift_detected") or row.get("audit_share") is None:
        return default_share
    return max(default_share, float(row["audit_share"]))
