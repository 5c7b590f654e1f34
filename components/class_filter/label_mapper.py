"""Labels serialized tf.Examples for ClassFilter: targets get their index, other diagnoses go out of scope.

    LabelExamplesFn(code_to_label, label_names, split)   # main output: target examples, labelled
    # tagged OUT_OF_SCOPE: non-target ISIC diagnoses, label -1 and label_name = the code
    # tagged COUNTS: (split, FilterOutcome value, label or code) per example

Beam workers import this module, so it stays light: examples are decoded and re-encoded with
tfx_bsl's Arrow coders, no TensorFlow.
"""
from __future__ import annotations

from enum import Enum
from typing import Iterator

import apache_beam as beam
import pyarrow as pa
from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder, RecordBatchToExamplesEncoder

from dermflow.isic.out_of_scope_examples import OUT_OF_SCOPE_LABEL, is_out_of_scope_diagnosis

COUNTS = "counts"
OUT_OF_SCOPE = "out_of_scope"


class FilterOutcome(str, Enum):
    """What ClassFilter did with one example."""

    KEPT = "kept"  # a target: in its split, labelled
    OUT_OF_SCOPE = "out_of_scope"  # another of the eight diagnoses: in OutOfScope/Split-<split>, label -1
    DROPPED = "dropped"  # UNK, empty or unknown: written nowhere


def with_label(batch: pa.RecordBatch, index: int, name: str) -> pa.RecordBatch:
    columns = [c for c in batch.schema.names if c not in ("label", "label_name")]
    arrays = [batch.column(c) for c in columns]
    return pa.RecordBatch.from_arrays(
        arrays + [pa.array([[index]], pa.list_(pa.int64())), pa.array([[name.encode("utf-8")]], pa.list_(pa.binary()))],
        columns + ["label", "label_name"],
    )


class LabelExamplesFn(beam.DoFn):
    """serialized Example -> labelled Example (main), or on ``OUT_OF_SCOPE``, or nothing; counts on ``COUNTS``."""

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
        if label is not None:
            yield self._encoder.encode(with_label(batch, self._index[label], label))[0]
            yield beam.pvalue.TaggedOutput(COUNTS, (self._split, FilterOutcome.KEPT.value, label))
        elif is_out_of_scope_diagnosis(code, self._code_to_label):
            yield beam.pvalue.TaggedOutput(OUT_OF_SCOPE, self._encoder.encode(with_label(batch, OUT_OF_SCOPE_LABEL, code))[0])
            yield beam.pvalue.TaggedOutput(COUNTS, (self._split, FilterOutcome.OUT_OF_SCOPE.value, code))
        else:
            yield beam.pvalue.TaggedOutput(COUNTS, (self._split, FilterOutcome.DROPPED.value, code))
