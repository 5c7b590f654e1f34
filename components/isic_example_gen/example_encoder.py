"""One ISIC image file + its CSV row -> one serialized tf.Example (the Beam work of IsicExampleGen).

Beam workers import this module, so it stays light: no TensorFlow, no TFX. Examples are
serialized with tfx_bsl's Arrow encoder, which writes the same tf.Example protos.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue
from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

from dermflow.imaging import UNREADABLE, ImageRejected, decode_image, encode_jpeg, resize_max_side, sha256_hex
from dermflow.ingest_report import OK, REJECTED
from dermflow.isic_csv import UNKNOWN, IsicRecord

OUTCOMES = "outcomes"
ENCODE_BATCH = 32  # examples serialized together: Arrow's per-call cost is paid once per batch, memory stays bounded


@dataclass(frozen=True)
class IngestItem:
    path: str
    record: IsicRecord
    split: str


@dataclass(frozen=True)
class EncodeSettings:
    max_side: int = 512
    jpeg_quality: int = 90
    max_pixels: int = 100_000_000
    age_buckets: tuple[int, ...] = (30, 45, 60, 75)


def age_bucket(age: int, bounds: tuple[int, ...]) -> str:
    """With bounds (30, 45, 60, 75): ``<30``, ``30-44``, ``45-59``, ``60-74``, ``75+``; ``unknown`` below 0."""
    if age < 0:
        return UNKNOWN
    if not bounds or age < bounds[0]:
        return f"<{bounds[0]}" if bounds else "all"
    for low, high in zip(bounds, bounds[1:]):
        if low <= age < high:
            return f"{low}-{high - 1}"
    return f"{bounds[-1]}+"


def example_features(record: IsicRecord, image: bytes, width: int, height: int, sha256: str, bounds: tuple[int, ...]) -> dict:
    return {
        "image": image,
        "image_id": record.image_id,
        "diagnosis": record.diagnosis,
        "lesion_id": record.lesion_id,
        "age_approx": record.age_approx,
        "age_bucket": age_bucket(record.age_approx, bounds),
        "sex": record.sex,
        "anatom_site_general": record.anatom_site_general,
        "width": width,
        "height": height,
        "sha256": sha256,
    }


def features_to_record_batch(rows: list[dict]) -> pa.RecordBatch:
    """Rows of features -> an Arrow batch: ints become int64 lists, everything else a bytes list."""
    arrays = []
    for name, value in rows[0].items():
        if isinstance(value, int):
            arrays.append(pa.array([[row[name]] for row in rows], pa.list_(pa.int64())))
        else:
            values = [row[name] for row in rows]
            arrays.append(pa.array([[v.encode("utf-8") if isinstance(v, str) else v] for v in values], pa.list_(pa.binary())))
    return pa.RecordBatch.from_arrays(arrays, list(rows[0]))


class EncodeIsicExampleFn(beam.DoFn):
    """IngestItem -> (split, serialized tf.Example) on the main output, and a JSON outcome on ``OUTCOMES``."""

    def __init__(self, settings: EncodeSettings):
        self._settings = settings
        self._encoder = None
        self._pending: list[tuple[str, dict]] = []

    def setup(self):
        self._encoder = RecordBatchToExamplesEncoder()

    def start_bundle(self):
        self._pending = []

    def process(self, item: IngestItem) -> Iterator:
        record = item.record
        try:
            features = self._features(item)
        except ImageRejected as rejected:
            yield beam.pvalue.TaggedOutput(OUTCOMES, json.dumps(
                {"status": REJECTED, "file": item.path, "image_id": record.image_id,
                 "reason": rejected.reason, "message": rejected.message}))
            return
        yield beam.pvalue.TaggedOutput(OUTCOMES, json.dumps(
            {"status": OK, "file": item.path, "image_id": record.image_id, "split": item.split, "diagnosis": record.diagnosis}))
        self._pending.append((item.split, features))
        if len(self._pending) >= ENCODE_BATCH:
            yield from self._flush()

    def finish_bundle(self) -> Iterator:
        for split_and_example in self._flush():
            yield WindowedValue(split_and_example, MIN_TIMESTAMP, [GlobalWindow()])

    def _flush(self) -> Iterator[tuple[str, bytes]]:
        pending, self._pending = self._pending, []
        if pending:
            serialized = self._encoder.encode(features_to_record_batch([features for _, features in pending]))
            yield from zip((split for split, _ in pending), serialized)

    def _features(self, item: IngestItem) -> dict:
        try:
            with open(item.path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ImageRejected(UNREADABLE, f"{type(exc).__name__}: {exc}") from None
        decoded = decode_image(data, max_pixels=self._settings.max_pixels)
        pixels = resize_max_side(decoded.pixels, self._settings.max_side)
        return example_features(
            item.record, encode_jpeg(pixels, self._settings.jpeg_quality),
            decoded.width, decoded.height, sha256_hex(data), self._settings.age_buckets,
        )
