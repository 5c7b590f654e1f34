"""Deterministic UIDs for what dermflow writes back, and the hashed names that stand for source UIDs.

    sr_uid = derived_uid(source_sop_uid, model_version, "sr")       # "2.25.<up to 39 digits>"
    name = hashed_name(source_sop_uid)                               # sha256 hex: file names, Parquet, logs

A result's UIDs derive from (the source SOP Instance UID, the model version, the role), as a
``2.25`` UUID-derived UID (DICOM PS3.5 B.2) of the first 128 bits of a sha256. Scoring the same image
again with the same model version gives the same SR and segmentation UIDs, so a PACS replaces the
earlier objects instead of holding two; another model version gives new ones.
"""
from __future__ import annotations

import hashlib

from dermflow.imaging.dicom_reader import hash_uid

SR = "sr"
SEGMENTATION = "seg"
SR_SERIES = "sr-series"
SEGMENTATION_SERIES = "seg-series"
DEVICE = "device"


def derived_uid(*parts: str) -> str:
    """``2.25.<int>`` from a sha256 of ``parts``; at most 44 characters, never a leading zero."""
    text = "\x1f".join(["dermflow", *(part.strip() for part in parts)])
    number = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")
    return f"2.25.{number}"


def result_uid(source_sop_uid: str, model_version: str, role: str) -> str:
    """The SOP Instance UID of one result (``SR``, ``SEGMENTATION``) of one source image."""
    return derived_uid(role, model_version, source_sop_uid)


def result_series_uid(study_uid: str, model_version: str, role: str) -> str:
    """One series per study, model version and kind of result (``SR_SERIES``, ``SEGMENTATION_SERIES``)."""
    return derived_uid(role, model_version, study_uid)


def device_uid(model_name: str, model_version: str) -> str:
    """The Device Observer UID of a model version (the SR's observer context, FHIR's Device)."""
    return derived_uid(DEVICE, model_name, model_version)


def hashed_name(uid: str) -> str:
    """What stands for a UID wherever a person or an analyst may see it (``dermflow.imaging`` hashes the same way)."""
    return hash_uid(uid)
