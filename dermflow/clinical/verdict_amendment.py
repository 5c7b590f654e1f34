"""A clinician's verdict on a DICOM image, sent back as an amended SR that references the first.

    outcome = amend_with_verdict(settings, predictions_dir, model_version, sha256, verdict)
    # -> AmendedSr(path of the amended SR, its SOP Instance UID, StoreOutcome)

The first SR, the one ``result_export`` wrote into ``score.clinical_results_dir``
(``dicom/<model_version>/<sha256 of the source SOP UID>-sr.dcm``), holds everything the amendment needs
about the patient, the study and the source image; the model's finding comes from the predictions
row (keyed by the image's sha256, as verdicts are). The amended SR (``sr_writer.build_sr`` with
``verdict`` and ``previous``) has its own UID, derived from the verdict's time, lists the first in its
Predecessor Documents Sequence, carries the verdict as a qualitative evaluation, and is stored like
the first (STOW-RS, retries) when ``score.dicomweb_url`` is set.

Which verdicts to send is the review store's to say (``dermflow/review/``: the current verdict per
image); this module takes one verdict at a time.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from dermflow.clinical import clinical_files
from dermflow.clinical.dicomweb_store import FailureReason, StoreOutcome, StoreStatus
from dermflow.clinical.model_finding import ModelFinding, read_prediction_rows
from dermflow.clinical.result_export import ExportSettings
from dermflow.clinical.sr_writer import Verdict, build_sr

# What the amended SR takes from the first: the Patient and Study modules and the general study context.
_COPIED = (
    "SpecificCharacterSet", "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
)


class AmendmentError(ValueError):
    """No first SR, or no prediction, for the image the verdict is about."""


@dataclass(frozen=True)
class AmendedSr:
    path: Path
    sop_instance_uid: str
    outcome: StoreOutcome


def source_header_from_sr(first_sr):
    """The source image as the first SR knows it: Patient / Study modules and the referenced image's UIDs."""
    from pydicom import Dataset

    header = Dataset()
    for keyword in _COPIED:
        if keyword in first_sr:
            setattr(header, keyword, first_sr.data_element(keyword).value)
    (study,) = first_sr.CurrentRequestedProcedureEvidenceSequence
    (series,) = study.ReferencedSeriesSequence
    (image,) = series.ReferencedSOPSequence
    header.SeriesInstanceUID = series.SeriesInstanceUID
    header.SOPClassUID = image.ReferencedSOPClassUID
    header.SOPInstanceUID = image.ReferencedSOPInstanceUID
    descriptors = _image_library_descriptors(first_sr)
    header.Modality = descriptors.get(_MODALITY, "XC")
    header.Rows, header.Columns = int(descriptors[_ROWS]), int(descriptors[_COLUMNS])
    return header


_MODALITY, _ROWS, _COLUMNS = "121139", "110910", "110911"  # DCM codes of the image library entry's descriptors


def _code_value(code) -> str:
    return str(code.get("CodeValue") or code.get("LongCodeValue") or code.get("URNCodeValue") or "")


def _image_library_descriptors(dataset) -> dict[str, object]:
    """Code value -> value of the CODE and NUM items anywhere under the SR's image library."""
    found: dict[str, object] = {}
    for item in dataset.get("ContentSequence", []):
        code = _code_value(item.ConceptNameCodeSequence[0]) if "ConceptNameCodeSequence" in item else ""
        if code in (_ROWS, _COLUMNS) and item.ValueType == "NUM":
            found[code] = item.MeasuredValueSequence[0].NumericValue
        elif code == _MODALITY and item.ValueType == "CODE":
            found[code] = _code_value(item.ConceptCodeSequence[0])
        for key, value in _image_library_descriptors(item).items():
            found.setdefault(key, value)
    return found


def amend_with_verdict(settings: ExportSettings, predictions_dir: str, model_version: str, sha256: str,
                       verdict: Verdict) -> AmendedSr:
    import pydicom

    row = read_prediction_rows(predictions_dir, model_version, {sha256}).get(sha256)
    if row is None or row.get("format") != "dicom" or not row.get("dicom_uid_sha256"):
        raise AmendmentError("no DICOM prediction of this model version for the image")
    first_path = Path(settings.clinical_dir) / clinical_files.DICOM_DIR / model_version / f"{row['dicom_uid_sha256']}-sr.dcm"
    if not first_path.is_file():
        raise AmendmentError("the image has no SR in score.clinical_results_dir to amend")
    first = pydicom.dcmread(first_path)
    amended = build_sr(source_header_from_sr(first), ModelFinding.from_prediction_row(row, model_version),
                       verdict=verdict, previous=first)
    buffer = io.BytesIO()
    amended.save_as(buffer, enforce_file_format=True)
    path = first_path.with_name(f"{row['dicom_uid_sha256']}-sr-amended-{verdict.recorded_at:%Y%m%dT%H%M%S%fZ}.dcm")
    clinical_files.write_private(path, buffer.getvalue())
    return AmendedSr(path, str(amended.SOPInstanceUID), _store(settings, buffer.getvalue()))


def _store(settings: ExportSettings, data: bytes) -> StoreOutcome:
    if not settings.dicomweb_url:
        return StoreOutcome(StoreStatus.WRITTEN)
    from dermflow.clinical.dicomweb_credentials import dicomweb_auth
    from dermflow.clinical.dicomweb_store import DicomwebStore

    try:
        store = DicomwebStore(settings.dicomweb_url, dicomweb_auth(settings.dicomweb_conn_id), settings.store_attempts,
                              settings.backoff_seconds)
    except Exception as exc:
        return StoreOutcome(StoreStatus.FAILED, FailureReason.PACS_UNREACHABLE, type(exc).__name__)
    return store.store([data])
