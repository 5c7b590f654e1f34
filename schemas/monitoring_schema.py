"""The Parquet tables of a scoring run's drift check: one row per run, one per feature compared.

    <output>/monitoring/runs/run_id=<id>/run-<id>.pq
    <output>/monitoring/features/run_id=<id>/features-<id>.pq

Named ``*.pq``, like the errors table, so that ``read_parquet('<output>/**/*.parquet')`` still reads
exactly the predictions. The partition column ``run_id`` lives in the folder names (Hive style):
``read_parquet('<output>/monitoring/runs/**/*.pq', hive_partitioning=1)`` in DuckDB,
``pd.read_parquet('<output>/monitoring/runs')`` in pandas. Metadata as in ``scores_schema`` (its ``table_schema``):
every field's ``description``, and all of them as JSON under ``dermflow.descriptions``.
"""
from __future__ import annotations

import pyarrow as pa

from dermflow.schemas.scores_schema import described_field, descriptions, partition_columns, table_schema

PARTITIONS: tuple[str, ...] = ("run_id",)
_RUN_ID = {"run_id": "Scoring run that was checked (Hive partition, string)."}


MONITORING_RUNS_SCHEMA = table_schema([
    described_field("model_name", pa.string(), "Registry name of the model that scored the run."),
    described_field("model_version", pa.string(), "Registry version of that model; its drift baseline is what the run is compared with."),
    described_field("checked_at", pa.timestamp("us", tz="UTC"), "When the run was checked (after it was published; after reconcile for a sharded run)."),
    described_field("status", pa.string(), "checked; or why not: no_baseline (the model was exported without one), too_few_rows (fewer than drift.min_rows scored), small_baseline (the model's baseline holds fewer than drift.min_baseline_images), nothing_scored, nothing_comparable (no monitored column has a value on both sides), disabled (drift.enabled false)."),
    described_field("drift_detected", pa.bool_(), "True when at least one feature crossed its threshold; null when the run was not checked.", nullable=True),
    described_field("drifted_features", pa.list_(pa.string()), "The features that crossed their thresholds (empty when none)."),
    described_field("scored", pa.int64(), "Images the run scored (its prediction rows); files skipped as already scored are not part of the check."),
    described_field("out_of_scope_rate", pa.float64(), "Share of the run's scored images flagged out_of_scope; null for a model without calibration or a run with nothing scored.", nullable=True),
    described_field("baseline_split", pa.string(), "Held-out split the model's baseline was computed on: test, or eval when ingest made no test split; null without a baseline.", nullable=True),
    described_field("baseline_images", pa.int64(), "Images in the model's drift baseline (0 without one)."),
    described_field("baseline_out_of_scope_rate", pa.float64(), "Share of the baseline's images flagged out_of_scope; null without a baseline or calibration.", nullable=True),
    described_field("audit_share", pa.float64(), "Random-audit share the review queue samples from this run's confident rows: drift.audit_share when drift was found, else null (the queue's own review.audit_share).", nullable=True),
    described_field("note", pa.string(), "One line for people: what was found, or why the run was not checked."),
], "monitoring_runs", PARTITIONS, _RUN_ID)

MONITORING_FEATURES_SCHEMA = table_schema([
    described_field("model_version", pa.string(), "Registry version of the model whose baseline the feature was compared with."),
    described_field("checked_at", pa.timestamp("us", tz="UTC"), "When the run was checked."),
    described_field("feature", pa.string(), "Predictions column compared (width, mean_brightness, predicted_label, out_of_scope, ...)."),
    described_field("feature_group", pa.string(), "image (what came in: size, format, brightness, colour) or output (what the model said)."),
    described_field("comparator", pa.string(), "TFDV drift comparator: jensen_shannon_divergence (numeric) or infinity_norm (categorical)."),
    described_field("distance", pa.float64(), "The comparator's value between the run and the baseline, in [0, 1]."),
    described_field("threshold", pa.float64(), "The configured threshold (drift.jensen_shannon / drift.infinity_norm)."),
    described_field("drifted", pa.bool_(), "True when distance > threshold (TFDV reports it as a drift anomaly)."),
    described_field("run_summary", pa.string(), "The run's distribution in short: mean (numeric) or the commonest values with their shares (categorical)."),
    described_field("baseline_summary", pa.string(), "The same for the baseline."),
], "monitoring_features", PARTITIONS, _RUN_ID)


__all__ = ["MONITORING_FEATURES_SCHEMA", "MONITORING_RUNS_SCHEMA", "PARTITIONS", "descriptions", "partition_columns"]
