"""The Parquet tables of a scoring run's drift check: one row per run, one per feature compared.

    <output>/monitoring/runs/run_id=<id>/run-<id>.pq
    <output>/monitoring/features/run_id=<id>/features-<id>.pq

Named ``*.pq``, like the errors table, so that ``read_parquet('<output>/**/*.parquet')`` still reads
exactly the predictions. The partition column ``run_id`` lives in the folder names (Hive style):
``read_parquet('<output>/monitoring/runs/**/*.pq', hive_partitioning=1)`` in DuckDB,
``pd.read_parquet('<output>/monitoring/runs')`` in pandas. Metadata as in ``scores_schema``: every field's
``description``, and all of them as JSON under ``dermflow.descriptions``.
"""
from __future__ import annotations

import json

import pyarrow as pa

SCHEMA_VERSION = "1"
PARTITIONS: tuple[str, ...] = ("run_id",)
_RUN_ID = "Scoring run that was checked (Hive partition, string)."


def _field(name: str, type_: pa.DataType, description: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def _schema(fields: list[pa.Field], table: str) -> pa.Schema:
    descriptions = {f.name: f.metadata[b"description"].decode() for f in fields}
    descriptions["run_id"] = _RUN_ID
    return pa.schema(fields, metadata={
        "dermflow.table": table,
        "dermflow.schema_version": SCHEMA_VERSION,
        "dermflow.partitioned_by": ",".join(PARTITIONS),
        "dermflow.descriptions": json.dumps(descriptions, sort_keys=True),
    })


MONITORING_RUNS_SCHEMA = _schema([
    _field("model_name", pa.string(), "Registry name of the model that scored the run."),
    _field("model_version", pa.string(), "Registry version of that model; its drift baseline is what the run is compared with."),
    _field("checked_at", pa.timestamp("us", tz="UTC"), "When the run was checked (after it was published; after reconcile for a sharded run)."),
    _field("status", pa.string(), "checked; or why not: no_baseline (the model was exported without one), too_few_rows (fewer than drift.min_rows scored), nothing_scored, nothing_comparable (no monitored column has a value on both sides), disabled (drift.enabled false)."),
    _field("drift_detected", pa.bool_(), "True when at least one feature crossed its threshold; null when the run was not checked.", nullable=True),
    _field("drifted_features", pa.list_(pa.string()), "The features that crossed their thresholds (empty when none)."),
    _field("scored", pa.int64(), "Images the run scored (its prediction rows); files skipped as already scored are not part of the check."),
    _field("out_of_scope_rate", pa.float64(), "Share of the run's scored images flagged out_of_scope; null for a model without calibration or a run with nothing scored.", nullable=True),
    _field("baseline_split", pa.string(), "Held-out split the model's baseline was computed on: test, or eval when ingest made no test split; null without a baseline.", nullable=True),
    _field("baseline_images", pa.int64(), "Images in the model's drift baseline (0 without one)."),
    _field("baseline_out_of_scope_rate", pa.float64(), "Share of the baseline's images flagged out_of_scope; null without a baseline or calibration.", nullable=True),
    _field("audit_share", pa.float64(), "Random-audit share the review queue samples from this run's confident rows: drift.audit_share when drift was found, else null (the queue's own review.audit_share).", nullable=True),
    _field("note", pa.string(), "One line for people: what was found, or why the run was not checked."),
], "monitoring_runs")

MONITORING_FEATURES_SCHEMA = _schema([
    _field("model_version", pa.string(), "Registry version of the model whose baseline the feature was compared with."),
    _field("checked_at", pa.timestamp("us", tz="UTC"), "When the run was checked."),
    _field("feature", pa.string(), "Predictions column compared (width, mean_brightness, predicted_label, out_of_scope, ...)."),
    _field("feature_group", pa.string(), "image (what came in: size, format, brightness, colour) or output (what the model said)."),
    _field("comparator", pa.string(), "TFDV drift comparator: jensen_shannon_divergence (numeric) or infinity_norm (categorical)."),
    _field("distance", pa.float64(), "The comparator's value between the run and the baseline, in [0, 1]."),
    _field("threshold", pa.float64(), "The configured threshold (drift.jensen_shannon / drift.infinity_norm)."),
    _field("drifted", pa.bool_(), "True when distance > threshold (TFDV reports it as a drift anomaly)."),
    _field("run_summary", pa.string(), "The run's distribution in short: mean (numeric) or the commonest values with their shares (categorical)."),
    _field("baseline_summary", pa.string(), "The same for the baseline."),
], "monitoring_features")


def descriptions(schema: pa.Schema) -> dict[str, str]:
    """Column -> description, the partition column included (docs/scoring.md's tables are generated from this)."""
    return json.loads(schema.metadata[b"dermflow.descriptions"])


def partition_columns(schema: pa.Schema) -> list[str]:
    value = schema.metadata[b"dermflow.partitioned_by"].decode()
    return [name for name in value.split(",") if name]
