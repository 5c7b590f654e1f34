"""One image's clinical results, end to end: re-read the source, build, write, store, account.

    exporter = ResultExporter(settings)                       # once per Beam worker (DoFn.setup)
    export = exporter.export(source, finding)                 # ImageExport: the outcome row (or None) + FHIR lines

``source`` says where the image is and what may be written about it (:class:`SourceImage`: the
path or ``dicomweb://`` address, its hashed path and UID). For a DICOM image the identifying
attributes are read again from the source here, when the results are written: the Patient and
Study modules for the SR and the segmentation, the Patient ID, Study UID and accession number for
FHIR. They never travel through the pipeline and never reach the outcome row, which holds the
hashed path and UID, the status and the reason only (``schemas/clinical_exports_schema.py``).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dermflow.clinical import clinical_files
from dermflow.clinical.dicomweb_store import FailureReason, StoreOutcome, StoreStatus
from dermflow.clinical.model_finding import ModelFinding

DICOM_FORMAT = "dicom"


@dataclass(frozen=True)
class ExportSettings:
    clinical_dir: str
    run_id: str
    dicom_results: str = "none"  # "none" | "sr"
    fhir_results: bool = False
    dicomweb_url: str | None = None
    dicomweb_conn_id: str | None = None
    store_attempts: int = 3
    backoff_seconds: float = 0.5

    @classmethod
    def from_config(cls, score, clinical_dir: str, run_id: str) -> "ExportSettings":
        return cls(clinical_dir, run_id, score.dicom_results, score.fhir_results, score.dicomweb_url,
                   score.dicomweb_conn_id, score.dicomweb_store_attempts, score.dicomweb_backoff_seconds)

    @property
    def writes_sr(self) -> bool:
        return self.dicom_results == "sr"


@dataclass(frozen=True)
class SourceImage:
    path: str  # as listed: a local path, a filesystem URL, or a dicomweb:// instance address
    relative_path: str  # hashed for dicomweb inputs
    format: str
    dicom_uid_sha256: str | None


@dataclass
class ImageExport:
    row: dict | None  # a clinical_exports row (DICOM with dicom_results=sr), else None
    fhir_lines: list[str] = field(default_factory=list)


class ResultExporter:
    def __init__(self, settings: ExportSettings):
        from dermflow.clinical.dicomweb_credentials import dicomweb_auth

        self._settings = settings
        self._auth = dicomweb_auth(settings.dicomweb_conn_id)
        self._store = None

    def export(self, source: SourceImage, finding: ModelFinding) -> ImageExport:
        header, problem = (None, None)
        if source.format == DICOM_FORMAT:
            header, problem = self._read_header(source.path)
        row = None
        sr_uid = ""
        if self._settings.writes_sr and source.format == DICOM_FORMAT:
            outcome, sr_uid = (StoreOutcome(StoreStatus.FAILED, FailureReason.SOURCE_UNREADABLE, problem or "", 0), ""
                               ) if header is None else self._export_dicom(header, finding)
            row = outcome_row(source, finding.sha256, finding.model_version, outcome)
        lines = self._fhir(header, source, finding, sr_uid) if self._settings.fhir_results else []
        return ImageExport(row, lines)

    def _read_header(self, path: str):
        from dermflow.clinical.dicomweb_source import is_dicomweb, read_instance_header

        try:
            if is_dicomweb(path):
                return read_instance_header(path, self._auth), None
            return _read_local_header(path), None
        except Exception as exc:  # the source went away or changed since it was scored
            return None, f"the source could not be read again ({type(exc).__name__})"

    def _export_dicom(self, header, finding: ModelFinding) -> tuple[StoreOutcome, str]:
        from dermflow.clinical.segmentation_writer import build_segmentation
        from dermflow.clinical.sr_writer import build_sr, evidence_header

        try:
            header = evidence_header(header)
            sr = build_sr(header, finding)
            encoded = [_encode(sr), _encode(build_segmentation(header, finding))]
            root = self._settings.clinical_dir
            clinical_files.write_private(clinical_files.sr_path(root, finding.model_version, header.SOPInstanceUID), encoded[0])
            clinical_files.write_private(
                clinical_files.segmentation_path(root, finding.model_version, header.SOPInstanceUID), encoded[1],
            )
        except Exception as exc:  # one image's bad header must not fail the batch
            return StoreOutcome(StoreStatus.FAILED, FailureReason.NOT_WRITTEN,
                                f"building or writing the SR / segmentation failed ({type(exc).__name__})", 0), ""
        if not self._settings.dicomweb_url:
            return StoreOutcome(StoreStatus.WRITTEN, "", "", 0), str(sr.SOPInstanceUID)
        return self._dicomweb_store().store(encoded), str(sr.SOPInstanceUID)

    def _dicomweb_store(self):
        from dermflow.clinical.dicomweb_store import DicomwebStore

        if self._store is None:
            self._store = DicomwebStore(self._settings.dicomweb_url, self._auth, self._settings.store_attempts,
                                        self._settings.backoff_seconds)
        return self._store

    def _fhir(self, header, source: SourceImage, finding: ModelFinding, sr_uid: str) -> list[str]:
        from dermflow.clinical.fhir_writer import ImageIdentity, image_resources

        identity = ImageIdentity.from_dicom_header(header) if header is not None else ImageIdentity.from_sha256(finding.sha256)
        return image_resources(finding, identity, sr_uid)


def _read_local_header(path: str):
    import pydicom
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type="uncompressed") as handle:
        return pydicom.dcmread(handle, stop_before_pixels=True)


def _encode(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def outcome_row(source: SourceImage, sha256: str, model_version: str, outcome: StoreOutcome) -> dict:
    """A row of ``clinical_exports`` (no PHI: hashed path and UID, status, reason)."""
    return {
        "path": source.relative_path, "sha256": sha256, "dicom_uid_sha256": source.dicom_uid_sha256,
        "model_version": model_version, "status": str(outcome.status), "reason": str(outcome.reason),
        "message": outcome.message, "attempts": int(outcome.attempts), "exported_at": datetime.now(timezone.utc),
    }
