"""Small ISIC-layout archives written by the tests, with the official CSV quirks on request."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from dermflow.config import ISIC_CLASSES

IMAGES_DIR = "ISIC_2019_Training_Input"
GROUND_TRUTH = "ISIC_2019_Training_GroundTruth.csv"
METADATA = "ISIC_2019_Training_Metadata.csv"


def image_bytes(seed: int, size=(48, 40), fmt: str = "JPEG") -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def one_hot_row(image_id: str, code: str) -> str:
    return ",".join([image_id] + ["1.0" if c == code else "0.0" for c in ISIC_CLASSES])


def write_csvs(root: Path, rows: list[dict], bom: bool = False, newline: str = "\r\n",
               gt_header: str | None = None) -> None:
    """rows: dicts with image_id, diagnosis and optional lesion_id, age, sex, site."""
    prefix = "\ufeff" if bom else ""
    gt_lines = [gt_header or ",".join(["image", *ISIC_CLASSES])]
    gt_lines += [one_hot_row(r["image_id"], r["diagnosis"]) for r in rows]
    md_lines = ["image,age_approx,anatom_site_general,lesion_id,sex"]
    md_lines += [f"{r['image_id']},{r.get('age', '')},{r.get('site', '')},{r.get('lesion_id', '')},{r.get('sex', '')}" for r in rows]
    (root / GROUND_TRUTH).write_text(prefix + newline.join(gt_lines) + newline, encoding="utf-8", newline="")
    (root / METADATA).write_text(prefix + newline.join(md_lines) + newline, encoding="utf-8", newline="")


def write_archive(root: Path, rows: list[dict], **csv_options) -> Path:
    """Writes one JPEG per row (named by image_id) and the two CSVs; returns the image folder."""
    images = root / IMAGES_DIR
    images.mkdir(parents=True, exist_ok=True)
    for index, row in enumerate(rows):
        (images / f"{row['image_id']}.jpg").write_bytes(image_bytes(index))
    write_csvs(root, rows, **csv_options)
    return images


def balanced_rows(per_class: int, codes=("MEL", "NV", "BCC", "BKL"), lesion_every: int = 3) -> list[dict]:
    rows = []
    for c, code in enumerate(codes):
        for i in range(per_class):
            n = c * 1000 + i
            rows.append({
                "image_id": f"ISIC_{n:07d}",
                "diagnosis": code,
                "lesion_id": f"HAM_{n // lesion_every:07d}" if i % 2 == 0 else "",
                "age": str(20 + (i * 7) % 60), "sex": ["male", "female", ""][i % 3], "site": "anterior torso" if i % 4 else "",
            })
    return rows
