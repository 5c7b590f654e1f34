"""Mean brightness and colour of a prepared image: what the drift check compares besides size and format.

    stats = colour_statistics(prepare_image(file_bytes, settings).data)   # ColourStatistics, 0..255 each

Computed on the JPEG that :func:`dermflow.imaging.model_input.prepare_image` made (scoring's one image
path, and the bytes ingest stored for the model's held-out split), so a file gets the same values at
scoring and in the model's drift baseline. The JPEG is decoded at its smallest DCT scale that keeps at
least :data:`MIN_SIDE` pixels on the shorter side: a mean over 64 x 48 pixels of a 512 x 384 image
differs from the full decode's by a fraction of a grey level, for about a twentieth of the CPU.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

MIN_SIDE = 32
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as JPEG's own Y


@dataclass(frozen=True)
class ColourStatistics:
    """Means over the image's pixels, each in 0..255."""

    mean_brightness: float  # luma Y of BT.601
    mean_red: float
    mean_green: float
    mean_blue: float

    def as_columns(self) -> dict[str, float]:
        """The predictions Parquet's columns of the same names."""
        return {"mean_brightness": self.mean_brightness, "mean_red": self.mean_red, "mean_green": self.mean_green,
                "mean_blue": self.mean_blue}


def colour_statistics(jpeg: bytes) -> ColourStatistics:
    """Means of a prepared JPEG (``prepare_image(...).data``); Pillow's errors pass through."""
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height = image.size
        scale = max(1, min(8, min(width, height) // MIN_SIDE))
        image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3)
    red, green, blue = rgb.mean(axis=0)
    return ColourStatistics(float(rgb.mean(axis=0) @ _LUMA), float(red), float(green), float(blue))
