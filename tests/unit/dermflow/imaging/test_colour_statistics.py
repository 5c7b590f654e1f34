import io

import numpy as np
import pytest
from PIL import Image

from dermflow.imaging.colour_statistics import colour_statistics


def _jpeg(pixels: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def test_a_flat_colour_gives_its_channels_and_bt601_luma():
    pixels = np.zeros((300, 400, 3), np.uint8)
    pixels[...] = (200, 100, 50)
    stats = colour_statistics(_jpeg(pixels))
    assert stats.mean_red == pytest.approx(200, abs=2) and stats.mean_green == pytest.approx(100, abs=2)
    assert stats.mean_blue == pytest.approx(50, abs=2)
    assert stats.mean_brightness == pytest.approx(0.299 * 200 + 0.587 * 100 + 0.114 * 50, abs=2)


def test_the_scaled_decode_keeps_the_mean_of_a_textured_image():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (512, 384, 3), dtype=np.uint8)
    pixels[:, :192] //= 2  # a darker half
    stats = colour_statistics(_jpeg(pixels))
    full = pixels.reshape(-1, 3).astype(float).mean(axis=0)
    assert (stats.mean_red, stats.mean_green, stats.mean_blue) == pytest.approx(tuple(full), abs=2.0)


def test_a_tiny_image_and_a_brighter_copy():
    pixels = np.full((8, 6, 3), 60, np.uint8)
    dark, bright = colour_statistics(_jpeg(pixels)), colour_statistics(_jpeg(pixels * 3))
    assert bright.mean_brightness > dark.mean_brightness + 100
    assert set(bright.as_columns()) == {"mean_brightness", "mean_red", "mean_green", "mean_blue"}
