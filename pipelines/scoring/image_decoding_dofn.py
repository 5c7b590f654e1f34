"""Reads each file once: hash it, skip it if already scored, decode and resize it, or reject it.

Main output: ``(ImageKey, pixels uint8 [S, S, 3])``, ready for RunInference.
Tagged ``rejected``: ``Rejection`` (a file that is not a usable image, with the reason).
Tagged ``skipped``: the relative path of a file this model version has already scored.
Nothing is dropped: every input element leaves by exactly one of the three.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from dermflow.imaging import UNREADABLE, ImageRejected, decode_image, resize_square, sha256_hex
from dermflow.pipelines.scoring.input_listing import InputFile

REJECTED = "rejected"
SKIPPED = "skipped"
METRICS_NAMESPACE = "dermflow.scoring"
INTERNAL_ERROR = "internal_error"

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageKey:
    """What travels beside the pixels through RunInference (a KeyedModelHandler key)."""

    path: str  # absolute / URL, for the overlay and gallery writers
    relative_path: str
    sha256: str
    format: str
    width: int
    height: int
    dicom_uid_sha256: str | None


@dataclass(frozen=True)
class Rejection:
    relative_path: str
    reason: str
    message: str


class DecodeImageDoFn(beam.DoFn):
    """``InputFile`` -> ``(ImageKey, pixels)`` | tagged ``rejected`` | tagged ``skipped``."""

    def __init__(self, image_size: int, max_pixels: int, scored_sha256: frozenset[str], progress_every_s: float = 15.0):
        self._image_size = image_size
        self._max_pixels = max_pixels
        self._scored = scored_sha256
        self._progress_every_s = progress_every_s
        self._decoded = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "decoded")
        self._rejected = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "rejected")
        self._skipped = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "skipped_already_scored")

    def setup(self):
        self._done = 0
        self._last_report = time.monotonic()

    def process(self, item: InputFile):
        self._report_progress()
        try:
            data = _read(item.path)
        except OSError as exc:
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(item.relative_path, UNREADABLE, f"cannot read the file: {exc}"))
            return
        digest = sha256_hex(data)
        if digest in self._scored:
            self._skipped.inc()
            yield beam.pvalue.TaggedOutput(SKIPPED, item.relative_path)
            return
        try:
            decoded = decode_image(data, max_pixels=self._max_pixels)
            pixels = resize_square(decoded.pixels, self._image_size)
        except ImageRejected as exc:
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(item.relative_path, exc.reason, exc.message))
            return
        except Exception as exc:  # a decoder bug on one file must not fail the batch
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection(item.relative_path, INTERNAL_ERROR, f"{type(exc).__name__} while decoding")
            )
            return
        self._decoded.inc()
        key = ImageKey(
            path=item.path, relative_path=item.relative_path, sha256=digest, format=decoded.format,
            width=decoded.width, height=decoded.height, dicom_uid_sha256=decoded.dicom_uid_hash,
        )
        yield key, np.ascontiguousarray(pixels, dtype=np.uint8)

    def _report_progress(self):
        self._done += 1
        now = time.monotonic()
        if now - self._last_report >= self._progress_every_s:
            self._last_report = now
            _LOG.warning("scoring progress: this worker has read %d files", self._done)


def _read(path: str) -> bytes:
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        return handle.read()
