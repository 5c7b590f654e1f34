"""``dermflow verdicts export``: the verdicts as Hive-partitioned Parquet that joins the predictions on sha256.

    summary = export_verdicts(db, "var/scores")   # var/scores/verdicts/model_version=<v>/part-<id>-0.parquet
    summary.rows, summary.by_model_version

``out_dir`` must not be a scoring output folder (its ``**/*.parquet`` must stay predictions only).
The export is a snapshot: it is written beside ``<out>/verdicts`` and then swapped in (rename), so a
reader sees the previous export or the new one, never half of one, and a re-export replaces rather
than adds. Columns: ``dermflow.schemas.verdicts_schema`` (never the comment, the OTHER free text,
the image path or kept images).
"""
from __future__ import annotations

import shutil
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from dermflow.review.review_database import ReviewDatabase
from dermflow.review.review_errors import ReviewStoreError
from dermflow.review.verdict_store import VerdictRecord, list_verdicts
from dermflow.schemas.verdicts_schema import VERDICT_PARTITIONS, VERDICTS_SCHEMA

VERDICTS_DIR = "verdicts"


@dataclass(frozen=True)
class ExportSummary:
    path: Path  # <out>/verdicts
    rows: int
    current: int  # images with a verdict (one current verdict each)
    by_model_version: dict[str | None, int]


def _row(verdict: VerdictRecord) -> dict:
    shown = verdict.shown
    return {
        "verdict_id": verdict.id, "sha256": verdict.sha256, "diagnosis": verdict.diagnosis.value,
        "basis": verdict.basis.value, "lesion_id": verdict.lesion_id, "reviewer": verdict.reviewer,
        "recorded_at": verdict.recorded_at,
        "model_name": shown.model_name if shown else None,
        "predicted_label": shown.predicted_label if shown else None,
        "probabilities": list(shown.probabilities.items()) if shown else None,
        "out_of_scope": shown.out_of_scope if shown else None,
        "run_id": shown.run_id if shown else None,
        "queue_reason": verdict.queue_reason.value, "queue_group": verdict.queue_reason.group,
        "supersedes": verdict.supersedes, "is_current": verdict.current,
        "model_version": shown.model_version if shown else None,
    }


def verdicts_table(verdicts: list[VerdictRecord]) -> pa.Table:
    """The export's rows, oldest first, with ``model_version`` as a last column (the partition)."""
    schema = VERDICTS_SCHEMA
    for name in VERDICT_PARTITIONS:
        schema = schema.append(pa.field(name, pa.string()))
    rows = [_row(v) for v in sorted(verdicts, key=lambda v: v.id)]
    return pa.Table.from_pylist(rows, schema=schema)


def export_verdicts(db: ReviewDatabase, out_dir: str | Path) -> ExportSummary:
    """Writes every verdict to ``<out_dir>/verdicts/`` (replacing an earlier export); see the module docstring."""
    out_dir = Path(out_dir)
    if (out_dir / "predictions").is_dir():
        raise ReviewStoreError(
            f"{out_dir} is a scoring output folder (it holds predictions/), where every *.parquet must be a prediction "
            "(docs/scoring.md): export beside it, e.g. to a verdicts-export folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    verdicts = list_verdicts(db)
    table = verdicts_table(verdicts)
    export_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    staging = out_dir / f".{VERDICTS_DIR}-{export_id}.tmp"
    final, old = out_dir / VERDICTS_DIR, out_dir / f".{VERDICTS_DIR}-{export_id}.old"
    try:
        staging.mkdir()
        if table.num_rows:
            partitioning = ds.partitioning(pa.schema([(name, pa.string()) for name in VERDICT_PARTITIONS]), flavor="hive")
            ds.write_dataset(table, staging, format="parquet", partitioning=partitioning,
                             basename_template=f"part-{export_id}-{{i}}.parquet", existing_data_behavior="error")
        if final.exists():
            final.rename(old)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return ExportSummary(path=final, rows=table.num_rows, current=sum(v.current for v in verdicts),
                         by_model_version=dict(Counter(v.shown.model_version if v.shown else None for v in verdicts)))
