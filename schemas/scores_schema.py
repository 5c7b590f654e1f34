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

SCHEMA_VERSION = "3"  # 2: in_scope_score, out_of_scope, prediction_set, prediction_set_size (docs/trust.md)
# 3: gradcam_in_lesion, attention_off_lesion, lesion_area (docs/trust.md, "Artefacts"); mean_brightness, mean colour (the drift check)
PREDICTION_PARTITIONS: tuple[str, ...] = ("model_version", "scored_date")
ERROR_PARTITIONS: tuple[str, ...] = ("run_id",)

_PARTITION_DESCRIPTIONS = {
    "model_version": "Registry version of the model that scored the image (Hive partition, string).",
    "scored_date": "UTC date (YYYY-MM-DD) the scoring run started (Hive partition, string).",
    "run_id": "Scoring run that rejected the file (Hive partition, string).",
}


def described_field(name: str, type_: pa.DataType, description: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def table_schema(fields: list[pa.Field], table: str, partitions: tuple[str, ...],
                 partition_descriptions: dict[str, str] | None = None) -> pa.Schema:
    """A table's schema with every column's description in its metadata (partition columns included)."""
    descriptions = {f.name: f.metadata[b"description"].decode() for f in fields}
    known = {**_PARTITION_DESCRIPTIONS, **(partition_descriptions or {})}
    descriptions.update({name: known[name] for name in partitions})
    return pa.schema(fields, metadata={
        "dermflow.table": table,
        "dermflow.schema_version": SCHEMA_VERSION,
        "dermflow.partitioned_by": ",".join(partitions),
        "dermflow.descriptions": json.dumps(descriptions, sort_keys=True),
    })


PREDICTIONS_SCHEMA = table_schema([
    described_field("path", pa.string(), "File path relative to the --input root it was found under (forward slashes)."),
    described_field("sha256", pa.string(), "Hex sha256 of the file's bytes; with model_version, the key that makes re-runs skip it."),
    described_field("format", pa.string(), "Format sniffed from the content: jpeg, png or dicom."),
    described_field("width", pa.int32(), "Width in pixels of the stored image, before EXIF orientation."),
    described_field("height", pa.int32(), "Height in pixels of the stored image, before EXIF orientation."),
    # Image features the drift check compares with the model's baseline (docs/scoring.md, "Monitoring").
    described_field("mean_brightness", pa.float32(), "Mean luma (BT.601 Y, 0-255) of the image as prepared for the model; null in rows scored before drift checks.", nullable=True),
    described_field("mean_red", pa.float32(), "Mean red (0-255) of the image as prepared for the model; null in rows scored before drift checks.", nullable=True),
    described_field("mean_green", pa.float32(), "Mean green (0-255) of the image as prepared for the model; null in rows scored before drift checks.", nullable=True),
    described_field("mean_blue", pa.float32(), "Mean blue (0-255) of the image as prepared for the model; null in rows scored before drift checks.", nullable=True),
    described_field("dicom_uid_sha256", pa.string(), "DICOM only: hex sha256 of the SOP Instance UID (no other DICOM attribute is kept).", nullable=True),
    described_field("model_name", pa.string(), "Registry name of the model."),
    described_field("predicted_label", pa.string(), "Label with the highest probability."),
    described_field("predicted_index", pa.int32(), "Index of predicted_label in the model's label order."),
    described_field("predicted_probability", pa.float32(), "Probability of predicted_label."),
    described_field("probabilities", pa.map_(pa.string(), pa.float32()), "Calibrated softmax probability per label (temperature fitted on held-out data; keys in the model's label order; they sum to 1)."),
    described_field("in_scope_score", pa.float32(), "In (0, 1]: share of held-out in-scope images whose penultimate features were at least as far from the model's classes; low = unlike every class the model knows. Null for a model without calibration.", nullable=True),
    described_field("out_of_scope", pa.bool_(), "True when the image looks like none of the model's classes (another diagnosis, not dermoscopy); threshold keeps trust.in_scope_retention of held-out in-scope images. Null for a model without calibration.", nullable=True),
    described_field("prediction_set", pa.list_(pa.string()), "Conformal prediction set: labels that together hold the true label with probability trust.conformal_coverage (marginal, for in-scope images exchangeable with the held-out ones). Empty or full set: do not rely on the label. Null for a model without calibration.", nullable=True),
    described_field("prediction_set_size", pa.int32(), "Number of labels in prediction_set; 1 = the model commits to one label.", nullable=True),
    described_field("gradcam", pa.list_(pa.float32()), "Raw Grad-CAM map of the predicted class in [0, 1], row-major, at the model's feature-map resolution."),
    described_field("gradcam_shape", pa.list_(pa.int32()), "[height, width] of gradcam."),
    described_field("gradcam_png", pa.binary(), "Grad-CAM upsampled to score.heatmap_png_size, as an 8-bit greyscale PNG (255 = most important)."),
    described_field("gradcam_in_lesion", pa.float32(), "Share of the Grad-CAM's mass inside the lesion mask, 0..1 (mask: Otsu on the smoothed, colour-normalised image, dermflow/imaging/lesion_mask.py). Null when no lesion mask was found.", nullable=True),
    described_field("attention_off_lesion", pa.bool_(), "True when the Grad-CAM's peak lies off the lesion mask (more than 5% of the side away): the model's attention is mostly outside the lesion; review the image. Null when no lesion mask was found.", nullable=True),
    described_field("lesion_area", pa.float32(), "Share of the image the lesion mask covers, 0..1. Null when no lesion mask was found.", nullable=True),
    described_field("scored_at", pa.timestamp("us", tz="UTC"), "When the row was produced."),
    described_field("run_id", pa.string(), "Scoring run that produced the row."),
], "predictions", PREDICTION_PARTITIONS)

ERRORS_SCHEMA = table_schema([
    described_field("path", pa.string(), "File path relative to the --input root it was found under."),
    described_field("reason", pa.string(), "Machine reason (RejectReason): " + ", ".join(reasons_of(SCORING)) + "."),
    described_field("message", pa.string(), "Human explanation; never contains DICOM attribute values."),
    described_field("model_version", pa.string(), "Model version the run was scoring with."),
    described_field("rejected_at", pa.timestamp("us", tz="UTC"), "When the file was rejected."),
], "errors", ERROR_PARTITIONS)


def descriptions(schema: pa.Schema) -> dict[str, str]:
    """Column -> description, partition columns included (docs/scoring.md's tables are generated from this)."""
    return json.loads(schema.metadata[b"dermflow.descriptions"])


def partition_columns(schema: pa.Schema) -> list[str]:
    value = schema.metadata[b"dermflow.partitioned_by"].decode()
    return [name for name in value.split(",") if name]
