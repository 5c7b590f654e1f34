"""Heatmaps for people: upsampled greyscale PNGs and jet-coloured overlays, numpy + Pillow only."""
from __future__ import annotations

import numpy as np
from PIL import Image

from dermflow.imaging import encode_png

# Piecewise-linear jet: (position, red, green, blue).
_JET = np.array([
    (0.00, 0.0, 0.0, 0.5), (0.11, 0.0, 0.0, 1.0), (0.34, 0.0, 0.8, 1.0), (0.50, 0.2, 1.0, 0.8),
    (0.65, 0.8, 1.0, 0.2), (0.89, 1.0, 0.0, 0.0), (1.00, 0.5, 0.0, 0.0),
], dtype=np.float32)


def upsample_heatmap(heatmap: np.ndarray, side: int) -> np.ndarray:
    """float [h, w] in [0, 1] -> float32 [side, side], bilinear."""
    image = Image.fromarray(np.ascontiguousarray(heatmap, dtype=np.float32))
    return np.asarray(image.resize((side, side), Image.BILINEAR), dtype=np.float32).clip(0.0, 1.0)


def heatmap_png(heatmap: np.ndarray, side: int) -> bytes:
    """The 8-bit greyscale PNG stored in Parquet: 255 where Grad-CAM is highest."""
    grey = np.rint(upsample_heatmap(heatmap, side) * 255.0).astype(np.uint8)
    return encode_png(grey)


def jet(values: np.ndarray) -> np.ndarray:
    """float [..] in [0, 1] -> uint8 RGB [.., 3]."""
    values = np.clip(values, 0.0, 1.0)
    channels = [np.interp(values, _JET[:, 0], _JET[:, c]) for c in (1, 2, 3)]
    return np.rint(np.stack(channels, axis=-1) * 255.0).astype(np.uint8)


def overlay(pixels: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """uint8 RGB [H, W, 3] with the jet heatmap blended on top, more opaque where the heat is higher."""
    height, width = pixels.shape[:2]
    heat = np.asarray(Image.fromarray(np.ascontiguousarray(heatmap, dtype=np.float32)).resize((width, height), Image.BILINEAR))
    heat = np.clip(heat, 0.0, 1.0)
    weight = (opacity * heat)[..., None]
    blended = pixels.astype(np.float32) * (1.0 - weight) + jet(heat).astype(np.float32) * weight
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def overlay_png(pixels: np.ndarray, heatmap: np.ndarray) -> bytes:
    return encode_png(overlay(pixels, heatmap))
