"""What the camera and dermoscope add around a lesion: skin, white balance, light, vignette, hairs, noise, focus.

    pixels = _photograph(rng, _mix(_skin(rng, size, tone), lesion, coverage))   # float planes -> uint8 RGB

Package-private: ``photo_renderer.render_image`` is the public entry point.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dermflow.synthetic.lesion_painter import _SKIN_DARK, _SKIN_LIGHT, _grid, _mix, _rgb, _smoothstep


def _skin(rng: np.random.Generator, size: int, tone: float) -> np.ndarray:
    base = _mix(_SKIN_LIGHT, _SKIN_DARK, tone) * _gains(rng, 0.04)
    texture = Image.fromarray(rng.normal(0, 0.035, (7, 7)).astype(np.float32)).resize((size, size), Image.Resampling.BICUBIC)
    return base * (1.0 + np.asarray(texture))


def _gains(rng: np.random.Generator, spread: float) -> np.ndarray:
    return rng.uniform(1 - spread, 1 + spread, (3, 1, 1)).astype(np.float32)


def _photograph(rng: np.random.Generator, pixels: np.ndarray) -> np.ndarray:
    """Camera and dermoscope nuisance: white balance, light, vignette, hairs, noise, focus; -> uint8."""
    size = pixels.shape[1]
    x, y = _grid(size)
    slope, direction, falloff = rng.uniform(0, 0.25), rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.18)
    light = (1.0 + np.float32(slope) * (x * np.float32(math.cos(direction)) + y * np.float32(math.sin(direction)))
             - np.float32(falloff) * (x * x + y * y))
    scope = None
    if rng.random() < 0.6:  # the dermoscope's dark circular rim
        ox, oy = rng.uniform(-0.1, 0.1, 2)
        rim = rng.uniform(0.95, 1.35)
        scope = _smoothstep(rim, rim + rng.uniform(0.04, 0.15), np.hypot(x - np.float32(ox), y - np.float32(oy)))
        light *= 1.0 - scope
    pixels *= light
    pixels *= _gains(rng, 0.07)
    if scope is not None:
        pixels += np.float32(0.03) * scope
    hairs = _hairs(rng, size)
    if hairs is not None:
        pixels = _mix(pixels, _rgb(0.12, 0.08, 0.06) * np.float32(rng.uniform(0.5, 1.2)), hairs)
    row, col = rng.integers(0, size, 2)
    pixels += np.float32(rng.uniform(0.005, 0.025)) * _sensor_noise(size)[:, row:row + size, col:col + size]
    np.clip(pixels, 0.0, 1.0, out=pixels)
    pixels *= 255
    pixels += 0.5
    rgb = np.ascontiguousarray(pixels.astype(np.uint8).transpose(1, 2, 0))
    focus = rng.uniform(0.0, 0.9) * size / 128
    if focus < 0.3:
        return rgb
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(focus)))


@functools.lru_cache(maxsize=4)
def _sensor_noise(size: int) -> np.ndarray:
    """A fixed bank of gaussian noise; each photograph reads a random window of it (much cheaper than drawing)."""
    bank = np.random.default_rng(2019).standard_normal((3, 2 * size, 2 * size), dtype=np.float32)
    bank.flags.writeable = False
    return bank


def _hairs(rng: np.random.Generator, size: int) -> np.ndarray | None:
    count = 0 if rng.random() < 0.45 else int(rng.integers(1, 10))
    if not count:
        return None
    layer = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(layer)
    t = np.linspace(0, 1, 10)[:, None]
    for _ in range(count):
        start = rng.uniform(-1.2, 1.2, 2)
        heading = rng.uniform(0, 2 * np.pi)
        end = start + rng.uniform(0.6, 2.0) * np.array([math.cos(heading), math.sin(heading)])
        bulge = (start + end) / 2 + rng.normal(0, 0.3, 2)
        curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * bulge + t ** 2 * end  # quadratic Bezier
        width = max(1, round(size / 128 * rng.uniform(0.7, 1.8)))
        draw.line([tuple(p) for p in (curve + 1.0) * (size / 2)], fill=int(rng.integers(170, 256)), width=width)
    return np.asarray(layer, dtype=np.float32) * np.float32(1 / 255)

