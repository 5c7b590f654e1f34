"""ClassFilter executor: every split of the input Examples -> the target examples, labelled, plus the out-of-scope ones.

    filtered_examples/Split-<split>/data_tfrecord-*.gz               targets, label 0..C-1 (the declared splits)
    filtered_examples/OutOfScope/Split-<split>/data_tfrecord-*.gz    other ISIC diagnoses, label -1 (undeclared)

The out-of-scope folder (dermflow.isic.out_of_scope_examples) is not a split of the artifact:
StatisticsGen, the Trainer's train/eval files and the Evaluator read only ``Split-<name>``.
"""
from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import apache_beam as beam
from absl import logging
from tfx.components.util import examples_utils
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.utils import io_utils

from dermflow.components.class_filter.label_mapper import COUNTS, OUT_OF_SCOPE, FilterOutcome, LabelExamplesFn
from dermflow.config import DermflowConfig
from dermflow.isic.label_vocabulary import write_label_vocabulary
from dermflow.isic.out_of_scope_examples import out_of_scope_split_uri
from dermflow.isic.span_manifest import SPANS_PROPERTY

CONFIG_KEY = "config_json"
EXAMPLES_KEY = "examples"
FILTERED_EXAMPLES_KEY = "filtered_examples"  # TFX forbids an output named like an input
LABEL_VOCABULARY_KEY = "label_vocabulary"
_COUNTS_DIR = "_counts"


def filter_split(pipeline: beam.Pipeline, split: str, in_uri: str, out_uri: str, out_of_scope_uri: str,
                 counts_prefix: str, code_to_label: dict[str, str], label_names: list[str]) -> None:
    labelled = (
        pipeline
        | f"Read[{split}]" >> beam.io.ReadFromTFRecord(io_utils.all_files_pattern(in_uri))
        | f"Label[{split}]" >> beam.ParDo(LabelExamplesFn(code_to_label, label_names, split)).with_outputs(
            COUNTS, OUT_OF_SCOPE, main="examples")
    )
    labelled.examples | f"Write[{split}]" >> beam.io.WriteToTFRecord(
        os.path.join(out_uri, "data_tfrecord"), file_name_suffix=".gz")
    labelled[OUT_OF_SCOPE] | f"WriteOutOfScope[{split}]" >> beam.io.WriteToTFRecord(
        os.path.join(out_of_scope_uri, "data_tfrecord"), file_name_suffix=".gz")
    (labelled[COUNTS]
     | f"Count[{split}]" >> beam.combiners.Count.PerElement()
     | f"Json[{split}]" >> beam.MapTuple(lambda key, n: json.dumps([*key, n]))
     | f"WriteCounts[{split}]" >> beam.io.WriteToText(f"{counts_prefix}-{split}", file_name_suffix=".jsonl"))


def read_counts(folder: Path, splits: list[str]) -> dict[FilterOutcome, dict]:
    """-> {outcome: {split: {label or code: n}}}: kept by label, out of scope and dropped by ISIC code."""
    counts = {outcome: {s: defaultdict(int) for s in splits} for outcome in FilterOutcome}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                split, outcome, name, n = json.loads(line)
                counts[FilterOutcome(outcome)][split][name] += n
    return {outcome: {s: dict(sorted(c.items())) for s, c in by_split.items()} for outcome, by_split in counts.items()}


class Executor(BaseBeamExecutor):

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        labels = DermflowConfig.from_json(exec_properties[CONFIG_KEY]).labels
        source = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        target = artifact_utils.get_single_instance(output_dict[FILTERED_EXAMPLES_KEY])
        vocabulary_dir = Path(artifact_utils.get_single_uri(output_dict[LABEL_VOCABULARY_KEY]))
        splits = artifact_utils.decode_split_names(source.split_names)
        target.split_names = artifact_utils.encode_split_names(splits)
        counts_dir = vocabulary_dir / _COUNTS_DIR

        with self._make_beam_pipeline() as pipeline:
            for split in splits:
                filter_split(pipeline, split, artifact_utils.get_split_uri([source], split),
                             artifact_utils.get_split_uri([target], split), out_of_scope_split_uri(target.uri, split),
                             str(counts_dir / "counts"), labels.code_to_label(), labels.label_names())

        examples_utils.set_payload_format(target, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(target, "tfrecords_gzip")
        if source.has_custom_property(SPANS_PROPERTY):  # the spans these examples hold, for the lineage (docs/ingest.md)
            target.set_string_custom_property(SPANS_PROPERTY, source.get_string_custom_property(SPANS_PROPERTY))
        counts = read_counts(counts_dir, splits)
        shutil.rmtree(counts_dir)
        kept, out_of_scope, dropped = (counts[o] for o in (FilterOutcome.KEPT, FilterOutcome.OUT_OF_SCOPE, FilterOutcome.DROPPED))
        write_label_vocabulary(vocabulary_dir, labels, kept, dropped, out_of_scope)
        logging.info("ClassFilter: kept %s, out of scope %s, dropped %s", kept, out_of_scope, dropped)
