"""One ISIC image file + its CSV row -> one serialized tf.Example (the Beam work of IsicExampleGen).

Beam workers import this module, so it stays light: no TensorFlow, no TFX. Examples are
serialized with tfx_bsl's Arrow encoder, which writes the same tf.Example protos.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Iterator

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

from dermflow.imaging import ImageRejected, RejectReason, sha256_hex
from dermflow.imaging.model_input import ImagePathSettings, prepare_image
from dermflow.isic.ingest_report import OK, REJECTED
from dermflow.isic.csv_reader import UNKNOWN, IsicRecord

OUTCOMES = "outcomes"
# Items per Beam element: Beam's per-element cost and Arrow's per-call cost are paid once per chunk,
# and a worker holds at most one chunk of encoded images.
CHUNK_SIZE = 32


@dataclass(frozen=True)
class IngestItem:
    path: str
    record: IsicRecord
    split: str


@dataclass(frozen=True)
class EncodeSettings:
    image_path: ImagePathSettings  # from cfg.data: the first half of the one image path
    age_buckets: tuple[int, ...]  # cfg.eval.age_buckets


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


def example_features(record: IsicRecord, image: bytes, width: int, height: int, sha256: str, bounds: tuple[int, ...],
                     source_format: str) -> dict:
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
        "format": source_format,
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


def chunked(items: list, size: int = CHUNK_SIZE) -> list[list]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def write_work_list(items: list[IngestItem], path: str) -> list[tuple[int, int]]:
    """Writes the items as JSON lines, one chunk per line; returns each line's (offset, length).

    Only these spans travel through Beam: a pipeline that carried the items themselves would
    pickle them all into its graph, which costs about 0.1 ms per image before any work starts.
    """
    spans, offset = [], 0
    with FileSystems.create(path) as handle:
        for chunk in chunked(items):
            line = json.dumps([[item.path, dataclasses.asdict(item.record), item.split] for item in chunk]).encode() + b"\n"
            handle.write(line)
            spans.append((offset, len(line)))
            offset += len(line)
    return spans


def read_chunk(handle, span: tuple[int, int]) -> list[IngestItem]:
    offset, length = span
    handle.seek(offset)
    return [IngestItem(path, IsicRecord(**record), split) for path, record, split in json.loads(handle.read(length))]


class EncodeIsicExampleFn(beam.DoFn):
    """The span of one chunk of IngestItems in the work list -> serialized tf.Examples on the output
    tagged with their split, and one JSON list of per-item outcomes on ``OUTCOMES``."""

    def __init__(self, settings: EncodeSettings, work_list: str):
        self._settings = settings
        self._work_list = work_list
        self._encoder = None
        self._handle = None

    def setup(self):
        self._encoder = RecordBatchToExamplesEncoder()
        self._handle = FileSystems.open(self._work_list, compression_type=CompressionTypes.UNCOMPRESSED)

    def teardown(self):
        if self._handle is not None:
            self._handle.close()

    def process(self, span: tuple[int, int]) -> Iterator:
        chunk = read_chunk(self._handle, span)
        encoded: list[tuple[str, dict]] = []
        outcomes = []
        for item in chunk:
            record = item.record
            try:
                encoded.append((item.split, self._features(item)))
            except ImageRejected as rejected:
                outcomes.append({"status": REJECTED, "file": item.path, "image_id": record.image_id,
                                 "reason": str(rejected.reason), "message": rejected.message})
                continue
            outcomes.append({"status": OK, "file": item.path, "image_id": record.image_id,
                             "split": item.split, "diagnosis": record.diagnosis})
        if encoded:
            serialized = self._encoder.encode(features_to_record_batch([features for _, features in encoded]))
            for (split, _), example in zip(encoded, serialized):
                yield beam.pvalue.TaggedOutput(split, example)
        yield beam.pvalue.TaggedOutput(OUTCOMES, json.dumps(outcomes))

    def _features(self, item: IngestItem) -> dict:
        try:
            with open(item.path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ImageRejected(RejectReason.UNREADABLE, f"{type(exc).__name__}: {exc}") from None
        image = prepare_image(data, self._settings.image_path)
        return example_features(item.record, image.data, image.width, image.height, sha256_hex(data), self._settings.age_buckets,
                                image.format)
