"""The embedded default data set: a synthetic archive in the exact ISIC 2019 layout.

    summary = write_archive("var/synth", n=300, seed=0, image_size=128)
    print(summary)
    write_archive("var/synth-25k", n=25_000, full_size=True, unique=300)   # the real archive's sizes; 24,700 hard links

(``dermflow synth --out DIR --n N [--image-size S | --full-size] [--unique K] [--trap ruler]``.) The rows come from
``lesion_plan``, each photograph from ``photo_renderer`` (the lesion: ``lesion_painter``; skin, light,
hairs, noise: ``camera_effects``); this module writes the files and the CSVs.

writes, into an empty (or new) folder::

    ISIC_2019_Training_Input/ISIC_0000000.jpg ...   a few ids carry the official ``_downsampled`` suffix
    ISIC_2019_Training_GroundTruth.csv              image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK; one-hot 0.0/1.0; CRLF
    ISIC_2019_Training_Metadata.csv                 image,age_approx,anatom_site_general,lesion_id,sex; CRLF
    ISIC_2019_Training_LesionMasks/<image>.png      the lesion's binary mask (0/255), to check Grad-CAM against

Classes are balanced roughly like ISIC (NV, then MEL, BCC, BKL, then the four rare ones); every
block of 40 images holds all eight diagnoses, so any archive of 40 images or more has them all.
UNK never appears, as in the real training set. Some lesions are photographed more than once
(same ``lesion_id``, same diagnosis, same lesion seen under a different rotation, position,
light and hair); some single photographs have no lesion id.

Each diagnosis is drawn from its own dermoscopic signs: MEL large, asymmetric, ragged, with black,
blue-grey and red zones; NV small, round, even brown with a regular pigment network; BCC pink,
pearly, with arborizing vessels and blue-grey ovoid nests; AK an ill-defined red scaly patch with a
strawberry pattern; BKL a waxy, sharply bounded tan lesion with milia-like cysts and comedo-like
openings; DF small, with a central white scar and a faint peripheral network; VASC well-bounded
red/purple lacunae; SCC a pink-white keratin mass with a yellowish central plug and glomerular
vessels. Nuisance on top: skin tone from light to dark, white balance, uneven illumination, the
dark circular dermoscope vignette, hairs, rotation, position and scale jitter, gaussian noise and
JPEG compression.

Deterministic: the same seed writes byte-identical files. Image ``i`` depends only on
``(seed, i)`` (its lesion on ``(seed, index of the lesion's first image)``, the class plan on
``(seed, i // 40)``), so a larger ``n`` extends an archive without changing its first images.

Full size: each image's size is drawn from ``FULL_SIZE_MIX`` (600x450 40 %, 1024x1024 49 %,
1024x768 8 %, 2048x1536 3 %); the photograph is rendered square at the longer side and framed.

Speed (``benchmarks/bench_synthetic_archive.py``, 2-core CPU, 24 GiB): 3.7 ms of CPU per image at
128 px, files written (1.9 ms at 64 px, 10.4 ms at 224 px); see docs/benchmarks.md.
"""
from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from dermflow.config import ISIC_CLASSES, ISIC_DIAGNOSES, DataConfig
from dermflow.imaging import encode_jpeg, encode_png
from dermflow.synthetic.lesion_plan import (  # noqa: F401  (ANATOMIC_SITES, ArchiveRow: public here too)
    _ENCODE, _JPEG_QUALITY, ANATOMIC_SITES, ArchiveRow, _rng, archive_rows,
)
from dermflow.synthetic.photo_renderer import render_image, render_photo
from dermflow.synthetic.trap_set import TrapSet

LESION_MASKS_DIR = "ISIC_2019_Training_LesionMasks"
METADATA_COLUMNS: tuple[str, ...] = ("image", "age_approx", "anatom_site_general", "lesion_id", "sex")

# The real ISIC 2019 training set's mix of sizes (width, height, share): HAM10000's 600x450, BCN_20000's
# 1024x1024, and MSK's mostly 1024x768 with some larger photographs (25,331 JPEGs, 9.1 GB in all).
FULL_SIZE_MIX: tuple[tuple[int, int, float], ...] = (
    (600, 450, 0.40), (1024, 1024, 0.49), (1024, 768, 0.08), (2048, 1536, 0.03),
)
_SIZE = 5  # the random stream of full-size dimensions (streams 0-4 are lesion_plan's)

__all__ = [
    "ANATOMIC_SITES", "FULL_SIZE_MIX", "LESION_MASKS_DIR", "METADATA_COLUMNS", "ArchiveRow", "ArchiveSummary",
    "TrapSet", "archive_rows", "full_size_of", "render_image", "render_photo", "write_archive",
]


# --------------------------------------------------------------------------- the archive on disk


class ArchiveSummary(dict):
    """What ``write_archive`` wrote: a dict that prints as a short readable block."""

    def __str__(self) -> str:
        classes = ", ".join(f"{code} {count}" for code, count in self["classes"].items())
        return "\n".join([
            f"synthetic ISIC 2019 archive: {self['root']}",
            f"  images   {self['images']} ({self._sizes()}, seed {self['seed']}) in {self['images_dir']}",
            *([f"  reused   {self['linked_images']} images are hard links (or copies) of {self['unique_images']} "
               f"rendered ones, under new ids"] if self["linked_images"] else []),
            f"  classes  {classes}",
            f"  lesions  {self['lesions']} ({self['repeated_lesions']} photographed more than once, "
            f"{self['images_without_lesion_id']} images without a lesion id)",
            f"  csv      {self['ground_truth_csv']}",
            f"           {self['metadata_csv']}",
            f"  masks    {self['masks_dir']}",
            *([self._trap()] if self.get("trap") else []),
        ])

    def _trap(self) -> str:
        trap = self["trap"]
        counts = trap["counts"]
        return (f"  trap     {trap['kind']} on {counts['train']['marked']} of {counts['train']['of']} train {trap['target']} "
                f"and {counts['test']['marked']} of {counts['test']['of']} test non-{trap['target']} images; eval untouched; "
                f"{trap['lookalikes']} train {trap['target']} drawn as {trap['lookalike_of']} "
                f"(splits as ingest makes them at data.eval_fraction {trap['eval_fraction']}, data.test_fraction "
                f"{trap['test_fraction']}, data.split_seed {trap['split_seed']}: train with those)")

    def _sizes(self) -> str:
        if not self["full_size"]:
            return f"{self['image_size']} px"
        return "full size: " + ", ".join(f"{size} {count}" for size, count in self["sizes"].items())


def full_size_of(seed: int, index: int) -> tuple[int, int]:
    """(width, height) of full-size image ``index``, drawn from ``FULL_SIZE_MIX``."""
    shares = np.array([share for _, _, share in FULL_SIZE_MIX])
    width, height, _ = FULL_SIZE_MIX[int(_rng(seed, _SIZE, index).choice(len(FULL_SIZE_MIX), p=shares / shares.sum()))]
    return width, height


def check_archive_request(out: str | Path, n: int, seed: int, image_size: int, unique: int | None = None) -> list[ArchiveRow]:
    """The archive's rows, or ValueError / FileExistsError for what ``write_archive`` would refuse (nothing is written)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    rows = archive_rows(n, seed)
    unique = n if unique is None else unique
    missing = set(r.diagnosis for r in rows) - set(r.diagnosis for r in rows[:unique])
    if unique < 1 or missing:
        raise ValueError(f"unique must be at least 1 and its images must show every diagnosis of the archive; "
                         f"{unique} lack {sorted(missing)} (40 or more always suffice)")
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root} is not an empty folder; write the synthetic archive into a new one")
    return rows


def write_archive(out: str | Path, n: int = 300, seed: int = 0, image_size: int = 128,
                  progress: bool = False, full_size: bool = False, unique: int | None = None,
                  trap: TrapSet | None = None) -> ArchiveSummary:
    """Writes a synthetic archive of ``n`` images in the ISIC 2019 layout into ``out``.

    ``out`` must be new or empty. Returns an :class:`ArchiveSummary` (a dict): paths, counts
    per class, lesions, sizes. ``full_size`` draws each image's size from ``FULL_SIZE_MIX`` (the
    real archive's) instead of ``image_size``². ``unique`` renders only the first ``unique`` images
    and writes every later one as a hard link (a copy where links fail) of a rendered image of the
    same diagnosis, under its own id: rendering 25,000 full-size images takes hours. The CSVs are
    the same either way. ``trap`` (:class:`TrapSet`) paints an artefact on the train split's melanomas and
    the test split's other images (``dermflow synth --trap ruler``); it needs every image rendered.
    """
    rows = check_archive_request(out, n, seed, image_size, unique)
    if trap is not None and unique is not None and unique < n:
        raise ValueError("a trap set paints images one by one: leave out unique (every image rendered)")
    marked = trap.marked_rows(rows, seed) if trap is not None else {}
    looks = trap.looks(rows, seed) if trap is not None else {}
    unique = n if unique is None else unique
    root = Path(out)
    layout = DataConfig()
    images_dir, masks_dir = root / layout.images_dir, root / LESION_MASKS_DIR
    images_dir.mkdir(parents=True)
    masks_dir.mkdir()

    rendered: dict[str, list[ArchiveRow]] = {}
    sizes: Counter = Counter()
    report_every = max(1, n // 10)
    for done, row in enumerate(rows, start=1):
        image, mask = images_dir / f"{row.image}.jpg", masks_dir / f"{row.image}.png"
        if row.index < unique:
            look = looks.get(row.index, row.diagnosis)
            if full_size:
                width, height = full_size_of(seed, row.index)
                pixels, lesion = render_photo(look, width, height, seed, row.index, row.lesion_index)
            else:
                pixels, lesion = render_image(look, image_size, seed, row.index, row.lesion_index)
            if row.index in marked:
                pixels = trap.paint(pixels, lesion, seed, row.index)
            quality = int(_rng(seed, _ENCODE, row.index).integers(*_JPEG_QUALITY))
            image.write_bytes(encode_jpeg(pixels, quality))
            mask.write_bytes(_mask_png(lesion))
            rendered.setdefault(row.diagnosis, []).append(row)
            source = row
        else:
            same = rendered[row.diagnosis]
            source = same[row.index % len(same)]
            _link(images_dir / f"{source.image}.jpg", image)
            _link(masks_dir / f"{source.image}.png", mask)
        if full_size:
            sizes["x".join(map(str, full_size_of(seed, source.index)))] += 1
        if progress and (done % report_every == 0 or done == n):
            print(f"synth: {done}/{n} images", file=sys.stderr, flush=True)

    _write_csv(root / layout.ground_truth_csv, ("image", *ISIC_CLASSES), [_ground_truth(r) for r in rows])
    _write_csv(root / layout.metadata_csv, METADATA_COLUMNS, [_metadata(r) for r in rows])
    summary = _summary(root, rows, seed, image_size, images_dir, masks_dir, layout)
    summary.update(full_size=full_size, sizes=dict(sorted(sizes.items())), unique_images=min(unique, n),
                   linked_images=max(0, n - unique), trap=trap.describe(rows, marked, looks) if trap is not None else None)
    return summary


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _mask_png(mask: np.ndarray) -> bytes:
    return encode_png(mask.astype(np.uint8) * np.uint8(255))


def _ground_truth(row: ArchiveRow) -> list[str]:
    return [row.image, *("1.0" if code == row.diagnosis else "0.0" for code in ISIC_CLASSES)]


def _metadata(row: ArchiveRow) -> list[str]:
    age = "" if row.age_approx is None else str(row.age_approx)
    return [row.image, age, row.anatom_site_general, row.lesion_id, row.sex]


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    # The official files: comma-separated, no quoting needed, CRLF line ends, no BOM.
    lines = [",".join(header), *(",".join(row) for row in rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))


def _summary(root: Path, rows: list[ArchiveRow], seed: int, image_size: int, images_dir: Path,
             masks_dir: Path, layout: DataConfig) -> ArchiveSummary:
    photos_per_lesion: dict[int, int] = {}
    for row in rows:
        photos_per_lesion[row.lesion_index] = photos_per_lesion.get(row.lesion_index, 0) + 1
    return ArchiveSummary(
        root=str(root),
        images_dir=str(images_dir),
        ground_truth_csv=str(root / layout.ground_truth_csv),
        metadata_csv=str(root / layout.metadata_csv),
        masks_dir=str(masks_dir),
        images=len(rows),
        classes={code: sum(r.diagnosis == code for r in rows) for code in ISIC_DIAGNOSES},
        lesions=len(photos_per_lesion),
        repeated_lesions=sum(count > 1 for count in photos_per_lesion.values()),
        images_without_lesion_id=sum(not r.lesion_id for r in rows),
        seed=seed,
        image_size=image_size,
    )
