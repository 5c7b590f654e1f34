"""Keeps the target diagnoses of serialized tf.Examples and adds ``label`` + ``label_name`` (Beam work of ClassFilter).

Beam workers import this module, so it stays light: examples are decoded and re-encoded with
tfx_bsl's Arrow coders, no TensorFlow.
"""
from __future__ import annotations

from typing import Iterator

import apache_beam as beam
import pyarrow as pa
from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder, RecordBatchToExamplesEncoder

COUNTS = "counts"
KEPT, DROPPED = "kept", "dropped"


def with_label(batch: pa.RecordBatch, index: int, name: str) -> pa.RecordBatch:
    columns = [c for c in batch.schema.names if c not in ("label", "label_name")]
    arrays = [batch.column(c) for c in columns]
    return pa.RecordBatch.from_arrays(
        arrays + [pa.array([[index]], pa.list_(pa.int64())), pa.array([[name.encode("utf-8")]], pa.list_(pa.binary()))],
        columns + ["label", "label_name"],
    )


class LabelExamplesFn(beam.DoFn):
    """serialized Example -> serialized Example with a label, or nothing; ``(split, kept|dropped, name)`` on ``COUNTS``."""

    def __init__(self, code_to_label: dict[str, str], label_names: list[str], split: str):
        self._code_to_label = dict(code_to_label)
        self._index = {name: i for i, name in enumerate(label_names)}
        self._split = split
        self._decoder = self._encoder = None

    def setup(self):
        self._decoder = ExamplesToRecordBatchDecoder()
        self._encoder = RecordBatchToExamplesEncoder()

    def process(self, serialized: bytes) -> Iterator:
        batch = self._decoder.DecodeBatch([serialized])
        code = batch.column("diagnosis")[0][0].as_py().decode("utf-8")
        label = self._code_to_label.get(code)
        if label is None:
            yield beam.pvalue.TaggedOutput(COUNTS, (self._split, DROPPED, code))
            return
        yield self._encoder.encode(with_label(batch, self._index[label], label))[0]
        yield beam.pvalue.TaggedOutput(COUNTS, (self._split, KEPT, label))
