"""Pairing the image files of an ISIC-layout archive with their CSV rows, before anything is decoded.

Files and rows are matched on the canonical id (``_downsampled`` suffix dropped, any extension:
the content decides the format later). Every file on disk ends up either paired with a row or
in a :class:`Rejection` (``not_in_csv``, ``duplicate_file``, ``invalid_label``); every row either
paired or rejected (``missing_image``, ``duplicate_id``, ``invalid_label``).

    plan = plan_archive(read_isic_csvs(gt, md), list_image_files(root / "ISIC_2019_Training_Input"))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dermflow.imaging.rejection import Rejection, RejectReason
from dermflow.isic.csv_reader import IsicRecord, IsicTable, canonical_id


class ArchiveError(ValueError):
    """The archive cannot be ingested (no image folder, too many missing images)."""


@dataclass
class ArchivePlan:
    pairs: list[tuple[str, IsicRecord]] = field(default_factory=list)  # (file path, its row)
    rejects: list[Rejection] = field(default_factory=list)
    files: int = 0
    csv_rows: int = 0

    @property
    def missing_images(self) -> int:
        return sum(r.reason == RejectReason.MISSING_IMAGE for r in self.rejects)

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
            plan.rejects.append(Rejection(RejectReason.DUPLICATE_FILE, f"{by_key[key].name} already holds this id", str(path), path.stem))
        else:
            by_key[key] = path
    for record in table.records:
        path = by_key.pop(record.key, None)
        if path is None:
            plan.rejects.append(Rejection(RejectReason.MISSING_IMAGE, "the CSV row has no image file", image_id=record.image_id))
        else:
            plan.pairs.append((str(path), record))
    for row in table.rejects:
        path = by_key.pop(canonical_id(row.image_id), None) if row.reason == RejectReason.INVALID_LABEL else None
        plan.rejects.append(Rejection(row.reason, row.message, str(path) if path else None, row.image_id))
    for path in by_key.values():
        plan.rejects.append(Rejection(RejectReason.NOT_IN_CSV, "no row in the ground-truth CSV", str(path), path.stem))
    return plan


def check_missing(plan: ArchivePlan, max_missing_fraction: float) -> None:
    if plan.missing_fraction > max_missing_fraction:
        examples = [r.image_id for r in plan.rejects if r.reason == RejectReason.MISSING_IMAGE][:5]
        raise ArchiveError(
            f"{plan.missing_images} of {plan.csv_rows} CSV rows ({plan.missing_fraction:.1%}) have no image file, "
            f"more than data.max_missing_fraction={max_missing_fraction:.1%} (e.g. {examples})"
        )
