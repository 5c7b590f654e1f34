"""Where clinical results live on disk: ``score.clinical_results_dir``, owner-only, never inside ``--output``.

    root = prepare_clinical_dir(cfg.score.clinical_results_dir, output)   # raises ClinicalDirError
    sr_path(root, model_version, source_uid)     # <root>/dicom/<model_version>/<sha256 of the UID>-sr.dcm
    fhir_run_dir(root, run_id)                   # <root>/fhir/<run_id>/

These files hold patient and study identification (they go back to the hospital's own systems), so
the folder is created 0700 and files 0600, and names use hashed UIDs only. It must be a local path:
its permissions are the protection.
"""
from __future__ import annotations

import os
from pathlib import Path

from dermflow.clinical.clinical_uids import hashed_name

DICOM_DIR = "dicom"
FHIR_DIR = "fhir"
STAGING_DIR = "_staging"


class ClinicalDirError(ValueError):
    """``score.clinical_results_dir`` cannot hold clinical results (inside --output, not local, not writable)."""


def check_clinical_dir(clinical_dir: str | Path, output: str | Path) -> Path:
    """The folder as an absolute local path; refused inside (or equal to) the analysts' ``--output``."""
    text = str(clinical_dir)
    if "://" in text:
        raise ClinicalDirError(f"score.clinical_results_dir {text} must be a local folder (its permissions protect it)")
    root = Path(os.path.realpath(os.path.abspath(text)))
    if "://" not in str(output):
        out = Path(os.path.realpath(os.path.abspath(str(output))))
        if root == out or root.is_relative_to(out):
            raise ClinicalDirError(
                f"score.clinical_results_dir {clinical_dir} lies inside --output {output}: results with patient "
                "identification must not go into the analysts' tree; choose a folder outside it"
            )
    existing = root
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ClinicalDirError(f"score.clinical_results_dir {clinical_dir} cannot be written ({existing} is read-only or no folder)")
    return root


def prepare_clinical_dir(clinical_dir: str | Path, output: str | Path) -> Path:
    """Checks, then creates the folder with owner-only permissions (and tightens an existing one)."""
    root = check_clinical_dir(clinical_dir, output)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    return root


def sr_path(root: str | Path, model_version: str, source_uid: str, suffix: str = "sr") -> Path:
    return Path(root) / DICOM_DIR / model_version / f"{hashed_name(source_uid)}-{suffix}.dcm"


def segmentation_path(root: str | Path, model_version: str, source_uid: str) -> Path:
    return sr_path(root, model_version, source_uid, "seg")


def fhir_run_dir(root: str | Path, run_id: str) -> Path:
    return Path(root) / FHIR_DIR / run_id


def staging_dir(root: str | Path, run_id: str) -> Path:
    return Path(root) / STAGING_DIR / run_id


def write_private(path: Path, data: bytes) -> None:
    """Owner-only (0600) file, written under a temp name and renamed; folders made 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(path.name + ".inprogress")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)
