"""The Parquet tables written by the scoring job: one row per scored image, one per rejected file.

    <output>/predictions/model_version=<v>/scored_date=<YYYY-MM-DD>/part-<run_id>-*.parquet
    <output>/errors/run_id=<id>/errors-<run_id>-*.pq

Only predictions end in ``.parquet``, so ``read_parquet('<output>/**/*.parquet', hive_partitioning=1)``
reads exactly the predictions; the errors files are Parquet too (``read_parquet('<output>/errors/**/*.pq')``).

Partition columns live in the directory names only (Hive style), never inside the files:
pandas refuses a dataset where a column is both. DuckDB (``hive_partitioning=1``), Spark,
pyarrow.dataset and pandas all read them back as columns.

Per-class probabilities are one ``map<string, float>`` column keyed by label, in the model's
label order, so models with different label sets share one schema:
``probabilities['MEL']`` in DuckDB and Spark, ``dict(row.probabilities)`` in pandas.
"""
from __future__ import annotations

import json

import pyarrow as pa

from dermflow.imaging.rejection import SCORING, reasons_of

# 2: in_scope_score, out_of_scope, prediction_set, prediction_set_size; 3: out_of_scope_reason,
# other_diagnosis_probability (docs/trust.md)
SCHEMA_VERSION = "3"
PREDICTION_PARTITIONS: tuple[str, ...] = ("model_version", "scored_date")
ERROR_PARTITIONS: tuple[str, ...] = ("run_id",)

_PARTITION_DESCRIPTIONS = {
    "model_version": "Registry version of the model that scored the image (Hive partition, string).",
    "scored_date": "UTC date (YYYY-MM-DD) the scoring run started (Hive partition, string).",
    "run_id": "Scoring run that rejected the file (Hive partition, string).",
}


def _field(name: str, type_: pa.DataType, description: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def _with_table_metadata(fields: list[pa.Field], table: str, partitions: tuple[str, ...]) -> pa.Schema:
    descriptions = {f.name: f.metadata[b"description"].decode() for f in fields}
    descriptions.update({name: _PARTITION_DESCRIPTIONS[name] for name in partitions})
    return pa.schema(fields, metadata={
        "dermflow.table": table,
        "dermflow.schema_version": SCHEMA_VERSION,
        "dermflow.partitioned_by": ",".join(partitions),
        "dermflow.descriptions": json.dumps(descriptions, sort_keys=True),
    })


PREDICTIONS_SCHEMA = _with_table_metadata([
    _field("path", pa.string(), "File path relative to the --input root it was found under (forward slashes)."),
    _field("sha256", pa.string(), "Hex sha256 of the file's bytes; with model_version, the key that makes re-runs skip it."),
    _field("format", pa.string(), "Format sniffed from the content: jpeg, png or dicom."),
    _field("width", pa.int32(), "Width in pixels of the stored image, before EXIF orientation."),
    _field("height", pa.int32(), "Height in pixels of the stored image, before EXIF orientation."),
    _field("dicom_uid_sha256", pa.string(), "DICOM only: hex sha256 of the SOP Instance UID (no other DICOM attribute is kept).", nullable=True),
    _field("model_name", pa.string(), "Registry name of the model."),
    _field("predicted_label", pa.string(), "Label with the highest probability."),
    _field("predicted_index", pa.int32(), "Index of predicted_label in the model's label order."),
    _field("predicted_probability", pa.float32(), "Probability of predicted_label."),
    _field("probabilities", pa.map_(pa.string(), pa.float32()), "Calibrated softmax probability per label (temperature fitted on held-out data; keys in the model's label order; they sum to 1)."),
    _field("in_scope_score", pa.float32(), "In (0, 1]: share of held-out in-scope images at least as unusual by the out-of-scope decision (the larger of two ranks: how like another diagnosis the abstention outputs find it, how far its features lie from the model's classes); low = out of scope. Null for a model without calibration.", nullable=True),
    _field("out_of_scope", pa.bool_(), "True when the image looks like none of the model's classes (another diagnosis, not dermoscopy); threshold keeps trust.in_scope_retention of held-out in-scope images. Null for a model without calibration.", nullable=True),
    _field("out_of_scope_reason", pa.string(), "Which signal raised out_of_scope: 'other_diagnosis' (looks like another diagnosis, one this model does not report), 'novel' (looks unlike anything the model knows) or 'other_diagnosis_and_novel'. Null when in scope, and for models without calibration or from before schema 3.", nullable=True),
    _field("other_diagnosis_probability", pa.float32(), "Summed probability of the model's abstention outputs (one per other ISIC diagnosis it was trained on, trust.abstention: hod): how much it looks like a diagnosis the model does not report. Not recalibrated. Null for a model trained without them.", nullable=True),
    _field("prediction_set", pa.list_(pa.string()), "Conformal prediction set: labels that together hold the true label with probability trust.conformal_coverage (marginal, for in-scope images exchangeable with the held-out ones). Empty or full set: do not rely on the label. Null for a model without calibration.", nullable=True),
    _field("prediction_set_size", pa.int32(), "Number of labels in prediction_set; 1 = the model commits to one label.", nullable=True),
    _field("gradcam", pa.list_(pa.float32()), "Raw Grad-CAM map of the predicted class in [0, 1], row-major, at the model's feature-map resolution."),
    _field("gradcam_shape", pa.list_(pa.int32()), "[height, width] of gradcam."),
    _field("gradcam_png", pa.binary(), "Grad-CAM upsampled to score.heatmap_png_size, as an 8-bit greyscale PNG (255 = most important)."),
    _field("scored_at", pa.timestamp("us", tz="UTC"), "When the row was produced."),
    _field("run_id", pa.string(), "Scoring run that produced the row."),
], "predictions", PREDICTION_PARTITIONS)

ERRORS_SCHEMA = _with_table_metadata([
    _field("path", pa.string(), "File path relative to the --input root it was found under."),
    _field("reason", pa.string(), "Machine reason (RejectReason): " + ", ".join(reasons_of(SCORING)) + "."),
    _field("message", pa.string(), "Human explanation; never contains DICOM attribute values."),
    _field("model_version", pa.string(), "Model version the run was scoring with."),
    _field("rejected_at", pa.timestamp("us", tz="UTC"), "When the file was rejected."),
], "errors", ERROR_PARTITIONS)


def descriptions(schema: pa.Schema) -> dict[str, str]:
    """Column -> description, partition columns included (docs/scoring.md's tables are generated from this)."""
    return json.loads(schema.metadata[b"dermflow.descriptions"])


def partition_columns(schema: pa.Schema) -> list[str]:
    value = schema.metadata[b"dermflow.partitioned_by"].decode()
    return [name for name in value.split(",") if name]
