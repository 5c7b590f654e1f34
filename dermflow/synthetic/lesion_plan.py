"""The rows of a synthetic archive: which diagnosis each image shows, its lesion, its patient.

    rows = archive_rows(n=300, seed=0)     # ArchiveRow(index, image, diagnosis, lesion_index, lesion_id, age...)

Every block of 40 images holds all eight diagnoses in ISIC-like proportions; some lesions are
photographed more than once (same ``lesion_id``), some single photographs have none. Row ``i``
depends only on ``(seed, i // 40)``; each random stream is seeded by ``(seed, stream, index)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ANATOMIC_SITES: tuple[str, ...] = (
    "anterior torso", "upper extremity", "posterior torso", "lower extremity",
    "lateral torso", "head/neck", "palms/soles", "oral/genital",
)

# One block of the class plan: ISIC-like proportions, every diagnosis present.
_BLOCK_QUOTA: dict[str, int] = {"MEL": 7, "NV": 16, "BCC": 5, "AK": 2, "BKL": 4, "DF": 2, "VASC": 2, "SCC": 2}
_BLOCK = sum(_BLOCK_QUOTA.values())
_PHOTOS_PER_LESION = ((1, 2, 3, 4), (0.6, 0.25, 0.1, 0.05))
_DOWNSAMPLED_RATE = 0.05
_NO_LESION_ID_RATE = 0.15  # of lesions photographed once

# Independent random streams, each seeded by (seed, stream, index).
_PLAN, _LESION, _IMAGE, _META, _ENCODE = range(5)
_JPEG_QUALITY = (70, 96)  # low, high (exclusive)


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng((seed, stream, index))


# --------------------------------------------------------------------------- the archive's rows


@dataclass(frozen=True)
class ArchiveRow:
    """One image of the archive: its ground truth and metadata."""

    index: int
    image: str  # the ISIC id, as in both CSVs and the file name
    diagnosis: str
    lesion_index: int  # index of the lesion's first image; seeds the lesion's appearance
    lesion_id: str  # "" when unknown
    age_approx: int | None
    anatom_site_general: str  # "" when unknown
    sex: str  # "" when unknown


def archive_rows(n: int, seed: int = 0) -> list[ArchiveRow]:
    """The rows ``write_archive(n=n, seed=seed)`` writes, without rendering anything."""
    rows: list[ArchiveRow] = []
    for block in range(math.ceil(n / _BLOCK)):
        rows.extend(_plan_block(seed, block))
    return rows[:n]


def _plan_block(seed: int, block: int) -> list[ArchiveRow]:
    rng = _rng(seed, _PLAN, block)
    start = block * _BLOCK
    diagnoses = rng.permutation(np.repeat(list(_BLOCK_QUOTA), list(_BLOCK_QUOTA.values())))
    lesion_of = np.empty(_BLOCK, dtype=np.int64)
    for code in _BLOCK_QUOTA:
        positions = np.flatnonzero(diagnoses == code)
        k = 0
        while k < len(positions):
            photos = int(rng.choice(_PHOTOS_PER_LESION[0], p=_PHOTOS_PER_LESION[1]))
            lesion_of[positions[k:k + photos]] = start + positions[k]
            k += photos
    downsampled = rng.random(_BLOCK) < _DOWNSAMPLED_RATE
    anonymous = rng.random(_BLOCK) < _NO_LESION_ID_RATE
    photos_of = dict(zip(*np.unique(lesion_of, return_counts=True)))
    rows = []
    for offset in range(_BLOCK):
        index, lesion = start + offset, int(lesion_of[offset])
        has_id = photos_of[lesion] > 1 or not anonymous[lesion - start]
        image = f"ISIC_{index:07d}" + ("_downsampled" if downsampled[offset] else "")
        age, site, sex = _patient(seed, lesion, str(diagnoses[offset]))
        rows.append(ArchiveRow(
            index=index, image=image, diagnosis=str(diagnoses[offset]), lesion_index=lesion,
            lesion_id=f"HAM_{lesion:07d}" if has_id else "", age_approx=age, anatom_site_general=site, sex=sex,
        ))
    return rows


_MEAN_AGE = {"MEL": 60, "NV": 42, "BCC": 67, "AK": 70, "BKL": 62, "DF": 45, "VASC": 50, "SCC": 70}
_SITE_WEIGHTS = np.array([0.28, 0.12, 0.11, 0.20, 0.01, 0.18, 0.02, 0.01])
_SUN_EXPOSED = np.array([0.0, 0.05, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0])  # head/neck, arms: BCC, AK, SCC


def _patient(seed: int, lesion: int, diagnosis: str) -> tuple[int | None, str, str]:
    """Age, site and sex of a lesion (shared by all its photographs); "" / None where unknown."""
    rng = _rng(seed, _META, lesion)
    age = int(np.clip(round(rng.normal(_MEAN_AGE[diagnosis], 14) / 5) * 5, 0, 85))
    weights = _SITE_WEIGHTS + (_SUN_EXPOSED if diagnosis in ("BCC", "AK", "SCC") else 0.0)
    site = ANATOMIC_SITES[int(rng.choice(len(ANATOMIC_SITES), p=weights / weights.sum()))]
    sex = "male" if rng.random() < 0.53 else "female"
    unknown_age, unknown_site, unknown_sex = rng.random(3) < (0.02, 0.10, 0.015)
    return (None if unknown_age else age), ("" if unknown_site else site), ("" if unknown_sex else sex)

