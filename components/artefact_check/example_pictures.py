"""The report's example pictures: per artefact, one image before and after, each beside its Grad-CAM.

    captions = write_examples(out, images, measured, labels, settings)   # out/examples/<kind>.png + examples.json
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from dermflow.evaluation.artefact_check import CheckImage, CheckSettings, Measurements, choose_examples, example_pictures
from dermflow.evaluation.artefact_summary import EXAMPLES_DIR, EXAMPLES_FILE
from dermflow.imaging import encode_png
from dermflow.inference.heatmap_overlay import overlay

TILE = 200  # side of each of the four tiles


def write_examples(out: Path, images: list[CheckImage], measured: Measurements, labels: list[str],
                   settings: CheckSettings) -> dict[str, dict]:
    """Writes ``examples/<kind>.png`` (clean, clean + Grad-CAM, painted, painted + Grad-CAM) and their captions."""
    folder = out / EXAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    captions = {}
    predicted = measured.predicted()
    for kind, row in choose_examples(measured).items():
        variant = 2 + measured.kinds.index(kind)
        clean, painted = example_pictures(images[row], kind, settings)
        tiles = [_tile(clean), _tile(overlay(clean, measured.gradcam[row, 1])),
                 _tile(painted), _tile(overlay(painted, measured.gradcam[row, variant]))]
        (folder / f"{kind}.png").write_bytes(encode_png(np.concatenate(tiles, axis=1)))
        before, after = int(predicted[row, 1]), int(predicted[row, variant])
        captions[kind] = {
            "file": f"{EXAMPLES_DIR}/{kind}.png",
            "image_id": images[row].image_id,
            "true_label": labels[int(measured.labels[row])],
            "before": {"label": labels[before], "probability": round(float(measured.probabilities[row, 1, before]), 4),
                       "lesion_mass": _rounded(measured.lesion_mass[row, 1])},
            "after": {"label": labels[after], "probability": round(float(measured.probabilities[row, variant, after]), 4),
                      "lesion_mass": _rounded(measured.lesion_mass[row, variant])},
        }
    (folder / EXAMPLES_FILE).write_text(json.dumps(captions, indent=2, sort_keys=True), encoding="utf-8")
    return captions


def _tile(pixels: np.ndarray) -> np.ndarray:
    image = Image.fromarray(pixels)
    image.thumbnail((TILE, TILE), Image.BILINEAR)
    canvas = Image.new("RGB", (TILE, TILE), (255, 255, 255))
    canvas.paste(image, ((TILE - image.width) // 2, (TILE - image.height) // 2))
    return np.asarray(canvas)


def _rounded(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)
