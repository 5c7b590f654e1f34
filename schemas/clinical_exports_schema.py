"""The clinical exports table: what became of each DICOM image's SR and segmentation (docs/scoring.md#clinical-results).

    <output>/clinical_exports/run_id=<id>/clinical-<run_id>-*.pq

One row per DICOM image a run exported (scored in the run, or retried because an earlier store
failed), so a failed store is never silently missing: it is a ``failed`` row, and the next run tries
it again even though the image's prediction exists. No PHI: the hashed path and UID, the status
and the reason. Parquet named ``*.pq``, like the errors table, so ``OUT/**/*.parquet`` stays the
predictions only.
"""
from __future__ import annotations

import pyarrow as pa

from dermflow.schemas.scores_schema import described_field, table_schema

CLINICAL_EXPORT_PARTITIONS: tuple[str, ...] = ("run_id",)

CLINICAL_EXPORTS_SCHEMA = table_schema([
    described_field("path", pa.string(), "The image's path as in predictions (for dicomweb inputs: hashed UIDs)."),
    described_field("sha256", pa.string(), "Hex sha256 of the image file's bytes (joins predictions on sha256 + model_version)."),
    described_field("dicom_uid_sha256", pa.string(), "Hex sha256 of the source's SOP Instance UID.", nullable=True),
    described_field("model_version", pa.string(), "Model version whose result was exported."),
    described_field("status", pa.string(), "stored (in the PACS and score.clinical_results_dir), written (score.clinical_results_dir only: no score.dicomweb_url), failed (retried by the next run)."),
    described_field("reason", pa.string(), "For failed: pacs_unreachable, pacs_refused, pacs_auth, source_unreadable, not_written; else empty."),
    described_field("message", pa.string(), "Human explanation (HTTP status, exception type); never UIDs or attribute values."),
    described_field("attempts", pa.int32(), "STOW-RS requests made (0: nothing was sent)."),
    described_field("exported_at", pa.timestamp("us", tz="UTC"), "When the export finished."),
], "clinical_exports", CLINICAL_EXPORT_PARTITIONS, {"run_id": "Scoring run that exported (Hive partition, string)."})
