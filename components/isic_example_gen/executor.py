"""IsicExampleGen executor: plan on the driver (CSV + file list, small), decode and write with Beam.

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
    OUTCOMES, EncodeIsicExampleFn, EncodeSettings, IngestItem, write_work_list)
from dermflow.imaging.model_input import ImagePathSettings
from dermflow.config import DataConfig, DermflowConfig
from dermflow.isic.ingest_report import build_report, check_accounting, summary_text, write_report
from dermflow.isic.archive_pairing import ArchiveError, ArchivePlan, check_missing, list_image_files, plan_archive
from dermflow.isic.csv_reader import read_isic_csvs
from dermflow.isic.lesion_split import SplitItem, assign_splits, split_names

CONFIG_KEY = "config_json"
EXAMPLES_KEY = "examples"
INGEST_REPORT_KEY = "ingest_report"
_SCRATCH_DIR = "_scratch"
OUTCOMES_PREFIX = "outcome"


def plan_ingest(data: DataConfig) -> ArchivePlan:
    if data.data_root is None:
        raise ArchiveError("data.data_root is not set: point it at the folder holding the ISIC archive")
    root = Path(data.data_root)
    table = read_isic_csvs(root / data.ground_truth_csv, root / data.metadata_csv)
    plan = plan_archive(table, list_image_files(root / data.images_dir))
    check_missing(plan, data.max_missing_fraction)
    return plan


def ingest_items(plan: ArchivePlan, data: DataConfig) -> list[IngestItem]:
    records = [record for _, record in plan.pairs]
    splits = assign_splits(
        (SplitItem(r.image_id, r.lesion_id, r.diagnosis) for r in records),
        data.eval_fraction, data.test_fraction, data.split_seed,
    )
    return [IngestItem(path, record, splits[record.image_id]) for path, record in plan.pairs]


def write_ingest(pipeline: beam.Pipeline, items: list[IngestItem], splits: list[str], split_uri: dict[str, str],
                 scratch_dir: str, settings: EncodeSettings, num_shards: int = 0) -> None:
    """Builds the Beam graph: encode every item, write each split to ``split_uri[split]``, and the
    per-item outcomes as JSON lines under ``scratch_dir``, beside the work list."""
    work_list = os.path.join(scratch_dir, "work_list.jsonl")
    spans = write_work_list(items, work_list)
    encoded = (
        pipeline
        | "Chunks" >> beam.Create(spans)
        | "Encode" >> beam.ParDo(EncodeIsicExampleFn(settings, work_list)).with_outputs(OUTCOMES, *splits)
    )
    for split in splits:
        encoded[split] | f"Write[{split}]" >> beam.io.WriteToTFRecord(
            os.path.join(split_uri[split], "data_tfrecord"), file_name_suffix=".gz", num_shards=num_shards)
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

        plan = plan_ingest(cfg.data)
        items = ingest_items(plan, cfg.data)
        splits = split_names(cfg.data.test_fraction)
        settings = EncodeSettings(ImagePathSettings.from_config(cfg.data), tuple(cfg.eval.age_buckets))
        scratch_dir = report_dir / _SCRATCH_DIR
        scratch_dir.mkdir(parents=True, exist_ok=True)
        examples.split_names = artifact_utils.encode_split_names(splits)
        logging.info("IsicExampleGen: %d files, %d to decode, %d rejected before decoding",
                     plan.files, len(items), len(plan.rejects))
        with self._make_beam_pipeline() as pipeline:
            write_ingest(pipeline, items, splits,
                         {s: artifact_utils.get_split_uri([examples], s) for s in splits},
                         str(scratch_dir), settings, cfg.data.num_shards)

        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")

        report = build_report(plan, read_outcomes(scratch_dir), splits)
        shutil.rmtree(scratch_dir)
        write_report(report, report_dir)
        logging.info("IsicExampleGen report:\n%s", summary_text(report))
        check_accounting(report)
