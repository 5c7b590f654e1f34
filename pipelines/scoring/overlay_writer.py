"""Writes one overlay PNG per scored image: ``<overlays_dir>/<relative path>.png``, atomically."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from dermflow.imaging import decode_image
from dermflow.inference.heatmap_overlay import overlay_png
from dermflow.pipelines.scoring.staged_output import write_bytes_atomically


def overlay_path(overlays_dir: str, relative_path: str) -> str:
    return FileSystems.join(overlays_dir, relative_path + ".png")


class WriteOverlayDoFn(beam.DoFn):
    """``(ImageKey, PredictionResult)`` -> the overlay file's path (the heatmap over the image the model read)."""

    def __init__(self, overlays_dir: str, max_pixels: int):
        self._overlays_dir = overlays_dir
        self._max_pixels = max_pixels

    def process(self, element):
        key, result = element
        path = overlay_path(self._overlays_dir, key.relative_path)
        pixels = decode_image(result.example, max_pixels=self._max_pixels).pixels  # the prepared JPEG: small
        write_bytes_atomically(path, overlay_png(pixels, result.inference.gradcam))
        yield path
