"""The Parquet export of clinicians' verdicts (``dermflow verdicts export``), for analysts.

    <output>/verdicts/model_version=<v>/part-<export_id>-<n>.parquet

One row per verdict, corrections included; ``is_current`` marks each image's current (newest)
verdict at export time. ``model_version`` is the Hive partition (in the directory names only, as
in the predictions); a verdict recorded with no model shown is under ``model_version=__HIVE_DEFAULT_PARTITION__``,
which DuckDB, Spark and pyarrow read back as null. It joins the predictions on ``sha256`` (and
``model_version``): docs/review.md has the DuckDB query.

Never exported: the comment and the OTHER free text (they may hold patient data), the image path
(the predictions have it), kept images, accounts.
"""
from __future__ import annotations

import json

import pyarrow as pa

SCHEMA_VERSION = "1"
VERDICT_PARTITIONS: tuple[str, ...] = ("model_version",)
_PARTITION_DESCRIPTIONS = {
    "model_version": "Registry version of the model whose prediction the reviewer was shown (Hive partition, string; "
                     "null when none was shown).",
}


def _field(name: str, type_: pa.DataType, description: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


_FIELDS = [
    _field("verdict_id", pa.int64(), "The verdict's id in the review store; ids grow with time."),
    _field("sha256", pa.string(), "Hex sha256 of the image file's bytes: joins the predictions' sha256."),
    _field("diagnosis", pa.string(), "ISIC code (MEL NV BCC AK BKL DF VASC SCC) or OTHER (its free text is not exported)."),
    _field("basis", pa.string(), "How the diagnosis is known: histopathology, consensus, follow_up or single_expert."),
    _field("lesion_id", pa.string(), "Pseudonymous lesion id, so images of one lesion stay together; null when not given.", True),
    _field("reviewer", pa.string(), "Account name of the reviewer who recorded it."),
    _field("recorded_at", pa.timestamp("us", tz="UTC"), "When it was recorded."),
    _field("model_name", pa.string(), "Registry name of the model shown; null when none was shown.", True),
    _field("predicted_label", pa.string(), "The label the model gave, as shown; null when none was shown.", True),
    _field("probabilities", pa.map_(pa.string(), pa.float32()),
           "The probabilities shown, keyed by label in the model's label order; null when none was shown.", True),
    _field("out_of_scope", pa.bool_(), "Whether the image was shown as out of scope; null when unknown.", True),
    _field("run_id", pa.string(), "Scoring run of the row shown; null for an upload or when none was shown.", True),
    _field("queue_reason", pa.string(), "Why the case was in front of the reviewer: out_of_scope, prediction_set, "
                                        "melanoma_band, random_audit, upload or direct."),
    _field("queue_group", pa.string(), "queue (out_of_scope, prediction_set, melanoma_band), random_audit, or other "
                                       "(upload, direct): report random_audit apart, it is the unbiased sample."),
    _field("supersedes", pa.int64(), "verdict_id of the verdict this one corrects; null for a first verdict.", True),
    _field("is_current", pa.bool_(), "True for the image's current verdict (its newest) at export time."),
]
_DESCRIPTIONS = {f.name: f.metadata[b"description"].decode() for f in _FIELDS} | _PARTITION_DESCRIPTIONS

# The files' own columns; model_version lives in the directory names.
VERDICTS_SCHEMA = pa.schema(_FIELDS, metadata={
    "dermflow.table": "verdicts",
    "dermflow.schema_version": SCHEMA_VERSION,
    "dermflow.partitioned_by": ",".join(VERDICT_PARTITIONS),
    "dermflow.descriptions": json.dumps(_DESCRIPTIONS, sort_keys=True),
})
# Never a column of the export, whatever the store holds (a test checks the schema against it).
NEVER_EXPORTED: tuple[str, ...] = ("comment", "other_text", "image_path", "jpeg", "password_hash", "token_sha256")


def descriptions(schema: pa.Schema = VERDICTS_SCHEMA) -> dict[str, str]:
    """Column -> description, the partition column included (the table in docs/review.md comes from this)."""
    return json.loads(schema.metadata[b"dermflow.descriptions"])
