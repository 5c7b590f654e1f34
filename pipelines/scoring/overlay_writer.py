"""Writes one overlay PNG per scored image: ``<overlays_dir>/<relative path>.png``, atomically."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from dermflow.pipelines.scoring.overlay_rendering import overlay_png
from dermflow.pipelines.scoring.staged_output import write_bytes_atomically


def overlay_path(overlays_dir: str, relative_path: str) -> str:
    return FileSystems.join(overlays_dir, relative_path + ".png")


class WriteOverlayDoFn(beam.DoFn):
    """``(ImageKey, PredictionResult)`` -> the overlay file's path (the heatmap over the model's input pixels)."""

    def __init__(self, overlays_dir: str):
        self._overlays_dir = overlays_dir

    def process(self, element):
        key, result = element
        path = overlay_path(self._overlays_dir, key.relative_path)
        write_bytes_atomically(path, overlay_png(result.example, result.inference.gradcam))
        yield path
