"""Reading the two official ISIC 2019 CSVs: ground truth (one-hot) and metadata.

Handles what the official files really contain: CRLF line ends, an optional UTF-8 BOM, ids with
the ``_downsampled`` suffix, empty metadata cells. Problems with single rows (a repeated id, a
one-hot row that is not one-hot) become :class:`Rejection` entries; a wrong header is an
:class:`IsicCsvError` naming the file and the missing columns.

    table = read_isic_csvs(root / "ISIC_2019_Training_GroundTruth.csv", root / "ISIC_2019_Training_Metadata.csv")
    table.records[0].diagnosis  # "NV"

Two optional columns serve the spans written from clinicians' verdicts (docs/ingest.md#spans): a
ground-truth column ``OTHER`` (a diagnosis outside ISIC's eight, which ClassFilter keeps as out of
scope) and a metadata column ``sha256`` (the digest of the original file the span's image was
prepared from, which the example then carries, so it still joins the predictions).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from dermflow.config import ISIC_CLASSES
from dermflow.imaging.rejection import Rejection, RejectReason

DOWNSAMPLED_SUFFIX = "_downsampled"
GROUND_TRUTH_COLUMNS: tuple[str, ...] = ("image", *ISIC_CLASSES)
METADATA_COLUMNS: tuple[str, ...] = ("image", "age_approx", "anatom_site_general", "lesion_id", "sex")
OTHER_DIAGNOSIS = "OTHER"  # optional ground-truth column: a reviewed diagnosis outside the eight
SHA256_COLUMN = "sha256"  # optional metadata column: the original file's digest
UNKNOWN = "unknown"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class IsicCsvError(ValueError):
    """A CSV that cannot be used at all (missing file, wrong header)."""


@dataclass(frozen=True)
class IsicRecord:
    image_id: str  # as written in the CSV, suffix included
    diagnosis: str  # ISIC code
    lesion_id: str = ""
    age_approx: int = -1
    sex: str = UNKNOWN
    anatom_site_general: str = UNKNOWN
    sha256: str = ""  # of the original file, when the metadata CSV says (spans of reviewed cases)

    @property
    def key(self) -> str:
        return canonical_id(self.image_id)


@dataclass
class IsicTable:
    records: list[IsicRecord] = field(default_factory=list)
    rejects: list[Rejection] = field(default_factory=list)
    without_metadata: int = 0  # ground-truth rows with no metadata row (their metadata is unknown)


def canonical_id(image_id: str) -> str:
    """``ISIC_0000017_downsampled`` -> ``ISIC_0000017``: one key for an image, whatever its file is called."""
    image_id = image_id.strip()
    return image_id[: -len(DOWNSAMPLED_SUFFIX)] if image_id.endswith(DOWNSAMPLED_SUFFIX) else image_id


def read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV as dicts; ``utf-8-sig`` drops a BOM and the csv module takes CRLF or LF."""
    path = Path(path)
    if not path.is_file():
        raise IsicCsvError(f"{path}: CSV file not found")
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise IsicCsvError(f"{path}: missing column(s) {missing}; the header has {header}")
        reader.fieldnames = header
        return [{key: (value or "").strip() for key, value in row.items() if key is not None} for row in reader]


def diagnosis_from_one_hot(row: dict[str, str]) -> str:
    """The one ISIC code whose column is 1; ValueError when the row is not one-hot."""
    hot = []
    for code in ISIC_CLASSES + ((OTHER_DIAGNOSIS,) if OTHER_DIAGNOSIS in row else ()):
        try:
            value = float(row[code] or 0.0)
        except ValueError:
            raise ValueError(f"column {code} holds {row[code]!r}, not a number") from None
        if value == 1.0:
            hot.append(code)
        elif value != 0.0:
            raise ValueError(f"column {code} holds {row[code]!r}; one-hot columns must be 0 or 1")
    if len(hot) != 1:
        raise ValueError(f"expected exactly one class set to 1, found {hot or 'none'}")
    return hot[0]


def parse_age(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return -1


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    """Metadata rows by canonical id; the first row wins when an id repeats."""
    by_id: dict[str, dict[str, str]] = {}
    for row in read_rows(path, METADATA_COLUMNS):
        by_id.setdefault(canonical_id(row["image"]), row)
    return by_id


def make_record(image_id: str, diagnosis: str, metadata: dict[str, str] | None) -> IsicRecord:
    if metadata is None:
        return IsicRecord(image_id=image_id, diagnosis=diagnosis)
    return IsicRecord(
        image_id=image_id,
        diagnosis=diagnosis,
        lesion_id=metadata["lesion_id"],
        age_approx=parse_age(metadata["age_approx"]),
        sex=metadata["sex"] or UNKNOWN,
        anatom_site_general=metadata["anatom_site_general"] or UNKNOWN,
        sha256=digest if _SHA256.fullmatch(digest := metadata.get(SHA256_COLUMN, "").lower()) else "",
    )


def read_isic_csvs(ground_truth_csv: Path, metadata_csv: Path) -> IsicTable:
    """Joins the ground truth with the metadata; repeated ids keep their first row, the rest are rejects."""
    metadata = read_metadata(metadata_csv)
    table = IsicTable()
    seen: dict[str, str] = {}
    for row in read_rows(ground_truth_csv, GROUND_TRUTH_COLUMNS):
        image_id = row["image"]
        key = canonical_id(image_id)
        if key in seen:
            table.rejects.append(Rejection(RejectReason.DUPLICATE_ID, f"repeats the row of {seen[key]}; the first row is kept", image_id=image_id))
            continue
        seen[key] = image_id
        try:
            diagnosis = diagnosis_from_one_hot(row)
        except ValueError as exc:
            table.rejects.append(Rejection(RejectReason.INVALID_LABEL, str(exc), image_id=image_id))
            continue
        if key not in metadata:
            table.without_metadata += 1
        table.records.append(make_record(image_id, diagnosis, metadata.get(key)))
    return table
