"""Pairing the image files of an ISIC-layout archive with their CSV rows, before anything is decoded.

Files and rows are matched on the canonical id (``_downsampled`` suffix dropped, any extension:
the content decides the format later). Every file on disk ends up either paired with a row or
in a :class:`Reject` (``not_in_csv``, ``duplicate_file``, ``invalid_label``); every row either
paired or rejected (``missing_image``, ``duplicate_id``, ``invalid_label``).

    plan = plan_archive(read_isic_csvs(gt, md), list_image_files(root / "ISIC_2019_Training_Input"))
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from dermflow.isic_csv import INVALID_LABEL, IsicRecord, IsicTable, canonical_id

NOT_IN_CSV = "not_in_csv"
MISSING_IMAGE = "missing_image"
DUPLICATE_FILE = "duplicate_file"


class ArchiveError(ValueError):
    """The archive cannot be ingested (no image folder, too many missing images)."""


@dataclass(frozen=True)
class Reject:
    file: str | None  # None for CSV rows that have no file of their own
    image_id: str | None
    reason: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ArchivePlan:
    pairs: list[tuple[str, IsicRecord]] = field(default_factory=list)  # (file path, its row)
    rejects: list[Reject] = field(default_factory=list)
    files: int = 0
    csv_rows: int = 0

    @property
    def missing_images(self) -> int:
        return sum(r.reason == MISSING_IMAGE for r in self.rejects)

    @property
    def missing_fraction(self) -> float:
        return self.missing_images / self.csv_rows if self.csv_rows else 0.0


def list_image_files(images_dir: Path) -> list[Path]:
    """Every regular file of the image folder (not recursive), sorted by name."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise ArchiveError(f"image folder not found: {images_dir}")
    return sorted(path for path in images_dir.iterdir() if path.is_file())


def plan_archive(table: IsicTable, files: list[Path]) -> ArchivePlan:
    plan = ArchivePlan(files=len(files), csv_rows=len(table.records) + len(table.rejects))
    by_key: dict[str, Path] = {}
    for path in files:
        key = canonical_id(path.stem)
        if key in by_key:
            plan.rejects.append(Reject(str(path), path.stem, DUPLICATE_FILE, f"{by_key[key].name} already holds this id"))
        else:
            by_key[key] = path
    for record in table.records:
        path = by_key.pop(record.key, None)
        if path is None:
            plan.rejects.append(Reject(None, record.image_id, MISSING_IMAGE, "the CSV row has no image file"))
        else:
            plan.pairs.append((str(path), record))
    for row in table.rejects:
        path = by_key.pop(canonical_id(row.image_id), None) if row.reason == INVALID_LABEL else None
        plan.rejects.append(Reject(str(path) if path else None, row.image_id, row.reason, row.message))
    for path in by_key.values():
        plan.rejects.append(Reject(str(path), path.stem, NOT_IN_CSV, "no row in the ground-truth CSV"))
    return plan


def check_missing(plan: ArchivePlan, max_missing_fraction: float) -> None:
    if plan.missing_fraction > max_missing_fraction:
        examples = [r.image_id for r in plan.rejects if r.reason == MISSING_IMAGE][:5]
        raise ArchiveError(
            f"{plan.missing_images} of {plan.csv_rows} CSV rows ({plan.missing_fraction:.1%}) have no image file, "
            f"more than data.max_missing_fraction={max_missing_fraction:.1%} (e.g. {examples})"
        )
