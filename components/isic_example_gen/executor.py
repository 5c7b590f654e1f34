"""IsicExampleGen executor: plan on the driver (CSV + file list, small), decode and write with Beam.

The data root holds spans (docs/ingest.md#spans): the base archive and ``spans/<name>/`` batches.
With the previous ingest's Examples as input (``previous_examples``, from the pipeline's
``LatestExamplesResolver``), spans ingested before with the same settings are reused (their files
hard-linked, ``span_ingest``) and only new or changed spans are encoded; ``spans.json`` and the
``dermflow_spans`` ML Metadata property record what this artifact holds.

The Beam job streams: the driver writes the (path, CSV row, split) work list to a scratch file,
Beam carries the byte span of each chunk of it, and each worker reads, validates (and where
needed shrinks and re-encodes) one image at a time and writes it straight to its split's gzipped
TFRecords. Per-image outcomes (a few bytes each) go to a JSON-lines side output, from which the
report is built.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import apache_beam as beam
from absl import logging
from tfx.components.util import examples_utils
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from dermflow.components.isic_example_gen.example_encoder import (
    OUTCOMES, EncodeIsicExampleFn, EncodeSettings, IngestItem, output_tag, write_known_digests, write_work_list)
from dermflow.components.isic_example_gen.span_ingest import (
    IngestPlan, finish_ingest, link_reused_files, log_plan, plan_ingest_spans, span_file_prefix)
from dermflow.imaging.model_input import ImagePathSettings
from dermflow.config import DermflowConfig
from dermflow.isic.ingest_report import check_accounting, merge_span_reports, summary_text, write_report
from dermflow.isic.span_manifest import SPANS_PROPERTY, write_manifest

CONFIG_KEY = "config_json"
EXAMPLES_KEY = "examples"
PREVIOUS_EXAMPLES_KEY = "previous_examples"  # optional: the last ingest's Examples (its spans.json says what to reuse)
INGEST_REPORT_KEY = "ingest_report"
_SCRATCH_DIR = "_scratch"
# Below this many files to encode (a span landing on an archive ingested before), DirectRunner runs the job in
# this process: starting the worker processes costs more than the second core gives back (docs/benchmarks.md).
IN_PROCESS_BELOW = 2000
OUTCOMES_PREFIX = "outcome"


def write_ingest(pipeline: beam.Pipeline, items: list[IngestItem], splits: list[str], split_uri: dict[str, str],
                 scratch_dir: str, settings: EncodeSettings, num_shards: int = 0, spans: list[str] | None = None) -> None:
    """Builds the Beam graph: encode every item, write each (span, split) to ``split_uri[split]`` as
    ``span-<span>-data_tfrecord-*.gz``, and the per-item outcomes as JSON lines under ``scratch_dir``,
    beside the work list."""
    work_list = os.path.join(scratch_dir, "work_list.jsonl")
    chunks = write_work_list(items, work_list)
    spans = spans if spans is not None else sorted({item.span for item in items})
    tags = [(span, split) for span in spans for split in splits]
    encoded = (
        pipeline
        | "Chunks" >> beam.Create(chunks)
        | "Encode" >> beam.ParDo(EncodeIsicExampleFn(settings, work_list)).with_outputs(
            OUTCOMES, *(output_tag(split, span) for span, split in tags))
    )
    for span, split in tags:
        encoded[output_tag(split, span)] | f"Write[{split}@{span}]" >> beam.io.WriteToTFRecord(
            os.path.join(split_uri[split], span_file_prefix(span)), file_name_suffix=".gz", num_shards=num_shards)
    encoded[OUTCOMES] | "WriteOutcomes" >> beam.io.WriteToText(
        os.path.join(scratch_dir, OUTCOMES_PREFIX), file_name_suffix=".jsonl")


def read_outcomes(folder: Path) -> list[dict]:
    """The per-item outcomes; each line holds the JSON list of one chunk."""
    outcomes = []
    for path in sorted(folder.glob(f"{OUTCOMES_PREFIX}*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    outcomes.extend(json.loads(line))
    return outcomes


class Executor(BaseBeamExecutor):

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        cfg = DermflowConfig.from_json(exec_properties[CONFIG_KEY])
        examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
        report_dir = Path(artifact_utils.get_single_uri(output_dict[INGEST_REPORT_KEY]))
        previous = input_dict.get(PREVIOUS_EXAMPLES_KEY) or []

        plan = plan_ingest_spans(cfg, previous[-1].uri if previous else None)
        log_plan(plan)
        splits = plan.declared_splits(cfg.data.test_fraction)
        examples.split_names = artifact_utils.encode_split_names(splits)
        scratch_dir = report_dir / _SCRATCH_DIR
        scratch_dir.mkdir(parents=True, exist_ok=True)
        link_reused_files(plan, examples.uri)
        items = plan.items
        logging.info("IsicExampleGen: %d files to decode in %d span(s), %d span(s) reused",
                     len(items), sum(bool(w.items) for w in plan.works), sum(not w.items for w in plan.works))
        self._encode(cfg, plan, items, splits, examples, scratch_dir)

        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        manifest, parts = finish_ingest(plan, read_outcomes(scratch_dir), examples.uri, splits)
        shutil.rmtree(scratch_dir)
        write_manifest(manifest, examples.uri)
        examples.set_string_custom_property(SPANS_PROPERTY, manifest.summary_json())
        removed = [{"name": r.name, "examples": len(r.images)} for r in plan.removed]
        report = merge_span_reports(parts, splits, removed, plan.problems)
        write_report(report, report_dir)
        logging.info("IsicExampleGen report:\n%s", summary_text(report))
        for part in parts:
            check_accounting(part["report"])
        check_accounting(report)

    def _encode(self, cfg: DermflowConfig, plan: IngestPlan, items: list[IngestItem], splits: list[str], examples,
                scratch_dir: Path) -> None:
        encoded_spans = [work.plan.span.name for work in plan.works if work.items]
        if not items:
            return
        known = None
        if plan.known_digests:
            known = str(scratch_dir / "known_digests.json")
            write_known_digests(known, plan.span_order, plan.known_digests)
        settings = EncodeSettings(ImagePathSettings.from_config(cfg.data), tuple(cfg.eval.age_buckets), known)
        beam_args = self._beam_pipeline_args
        if cfg.beam.runner == "DirectRunner" and len(items) < IN_PROCESS_BELOW:
            self._beam_pipeline_args = [*beam_args, "--direct_running_mode=in_memory", "--direct_num_workers=1"]
        try:
            with self._make_beam_pipeline() as pipeline:
                write_ingest(pipeline, items, splits, {s: artifact_utils.get_split_uri([examples], s) for s in splits},
                             str(scratch_dir), settings, cfg.data.num_shards, encoded_spans)
        finally:
            self._beam_pipeline_args = beam_args
