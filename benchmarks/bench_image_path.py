"""Scoring's per-image work on the one image path, against the old path, in the same run.

    python benchmarks/bench_image_path.py [--images 256] [--repeat 3] [--small-dir DIR]

Both paths read each file and score it in batches of 32 with Grad-CAM, through the same exported
default model (MobileNetV2 alpha 1.0 at 225 px; random weights, since speed does not depend on them):

  old: Pillow decode of the original file, Pillow bilinear resize to 225 on uint8, ``gradcam_pixels``;
  new: ``prepare_image`` (ingest's normalisation), then ``gradcam_images``, which decodes and resizes
       in the model's graph (``LesionPredictor``), i.e. what ``dermflow score`` runs since the one image path.

Beam, Parquet and publishing are the same for both and left out, so the ratio is the steady-state
cost per image of the two paths. Image sets: full-size synthetic lesions (1024x1024 and 1024x768
JPEGs, which ingest shrinks), and small ones (the real ISIC sample's 180-256 px JPEGs from
``--small-dir``, else synthetic 224 px). Each figure is the best of ``--repeat`` passes; the order of
the two paths alternates. Goal: new >= 0.95x old (wall clock).
"""
from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from timing import best_seconds

from dermflow.config import DataConfig, load_config
from dermflow.imaging import decode_image
from dermflow.imaging.model_input import ImagePathSettings

BATCH = 32
IMAGE_PATH = ImagePathSettings.from_config(DataConfig())


def resize_square(pixels: np.ndarray, side: int) -> np.ndarray:
    """The old scoring resize: Pillow bilinear on uint8 pixels (it antialiases when it shrinks)."""
    return np.asarray(Image.fromarray(pixels).resize((side, side), Image.BILINEAR))


def export_default_model(root: Path) -> Path:
    from dermflow.models import build_classifier, export_model

    cfg = load_config(None, ["model.weights=none"])
    built = build_classifier(cfg.model, num_classes=3)
    export_model(built, ["MEL", "NV", "BCC"], root / "export", IMAGE_PATH)
    return root / "export"


def full_size_images(folder: Path, count: int) -> list[Path]:
    from dermflow.synthetic.archive_writer import render_image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        pixels, _ = render_image(("MEL", "NV", "BCC")[index % 3], image_size=1024, seed=1, index=index)
        image = Image.fromarray(pixels)
        if index % 2:
            image = image.resize((1024, 768))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        path = folder / f"full_{index:05d}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def small_images(folder: Path, count: int, small_dir: str | None) -> list[Path]:
    if small_dir and Path(small_dir).is_dir():
        return sorted(Path(small_dir).glob("*.jpg"))[:count]
    from dermflow.synthetic.archive_writer import render_image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        pixels, _ = render_image("NV", image_size=224, seed=2, index=index)
        path = folder / f"small_{index:05d}.jpg"
        Image.fromarray(pixels).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def old_path(loaded, files: list[Path], side: int) -> None:
    import tensorflow as tf

    signature = loaded.signatures["gradcam_pixels"]
    for start in range(0, len(files), BATCH):
        batch = [resize_square(decode_image(f.read_bytes(), max_pixels=IMAGE_PATH.max_pixels).pixels, side)
                 for f in files[start:start + BATCH]]
        signature(pixels=tf.constant(np.stack(batch), dtype=tf.uint8))


def new_path(predictor, files: list[Path]) -> None:
    for start in range(0, len(files), BATCH):
        predictor.predict([predictor.prepare(f.read_bytes()).data for f in files[start:start + BATCH]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256, help="Images per set.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small-dir", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"
                                                     / "isic2019-dev" / "ISIC_2019_Training_Input"))
    args = parser.parse_args()

    import tensorflow as tf

    from dermflow.inference.lesion_predictor import LesionPredictor

    with tempfile.TemporaryDirectory(prefix="bench_image_path_") as tmp:
        root = Path(tmp)
        export_dir = export_default_model(root)
        loaded = tf.saved_model.load(str(export_dir))
        predictor = LesionPredictor.load(export_dir, IMAGE_PATH.max_pixels)
        side = load_config().model.image_size
        sets = {"full-size (1024x1024, 1024x768)": full_size_images(root / "full", args.images),
                "small (ISIC sample 180-256 px, or synthetic 224)": small_images(root / "small", args.images, args.small_dir)}
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; model MobileNetV2 1.0 at {side} px, "
              f"batch {BATCH}, best of {args.repeat}", flush=True)
        for name, files in sets.items():
            old_path(loaded, files[:BATCH], side)
            new_path(predictor, files[:BATCH])
            old = best_seconds(lambda: old_path(loaded, files, side), args.repeat)
            new = best_seconds(lambda: new_path(predictor, files), args.repeat)
            count = len(files)
            print(f"{name}, {count} images:", flush=True)
            print(f"  old path {count / old[0]:7.1f} img/s wall, {count / old[1]:7.1f} img/CPU-s", flush=True)
            print(f"  new path {count / new[0]:7.1f} img/s wall, {count / new[1]:7.1f} img/CPU-s", flush=True)
            print(f"  new/old: {old[0] / new[0]:.3f}x wall, {old[1] / new[1]:.3f}x CPU", flush=True)


if __name__ == "__main__":
    main()
