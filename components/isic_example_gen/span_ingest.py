"""IsicExampleGen's driver side for spans: what to reuse, what to encode, and the manifest afterwards.

    plan = plan_ingest_spans(cfg, previous_examples_uri)       # spans, reuse decisions, items with stable splits
    link_reused_files(plan, examples_uri)                       # reused spans' TFRecords, hard-linked
    ... the Beam job encodes plan.items ...
    manifest, report = finish_ingest(plan, outcomes, examples_uri, splits)

A span that is reused contributes its recorded files (hard links into the new artifact: no copy,
no decode) and its recorded part of the report. A span that is ingested is paired, split (keeping
every recorded split: ``dermflow.isic.stable_split``) and encoded. The base span's CSV or folder
problems fail the run as they always did; a further span's make it a *span problem*: it is left
out of this run, and the report and the log say why.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from absl import logging

from dermflow.components.isic_example_gen.example_encoder import IngestItem
from dermflow.config import DermflowConfig
from dermflow.isic.archive_pairing import ArchiveError, ArchivePlan, check_missing, list_image_files, plan_archive
from dermflow.isic.csv_reader import IsicCsvError, read_isic_csvs
from dermflow.isic.ingest_report import OK, build_report
from dermflow.isic.lesion_split import SplitItem, split_names
from dermflow.isic.span_layout import BASE_SPAN, SpanFolder, content_digest, list_spans
from dermflow.isic.span_manifest import (
    INGEST, REUSE, IngestManifest, SpanPlan, SpanRecord, fingerprint, ingest_settings, plan_spans, read_manifest)
from dermflow.isic.stable_split import SplitMemory, SplitSettings, assign_span_splits, split_order

SPAN_FILE_PREFIX = "span-"


def span_file_prefix(span: str) -> str:
    return f"{SPAN_FILE_PREFIX}{span}-data_tfrecord"


@dataclass
class SpanWork:
    plan: SpanPlan
    archive: ArchivePlan | None = None  # the ingested spans' file <-> row pairing
    items: list[IngestItem] = field(default_factory=list)


@dataclass
class IngestPlan:
    previous_uri: str | None
    manifest_before: IngestManifest | None
    fingerprint: str
    settings: dict
    split_settings: dict
    works: list[SpanWork]  # spans in this run, in ingest order
    removed: list[SpanRecord]
    problems: list[str]  # spans left out, one line each
    known_digests: dict[str, str]  # sha256 -> the earliest span holding it (for duplicate_image)

    @property
    def items(self) -> list[IngestItem]:
        return [item for work in self.works for item in work.items]

    @property
    def span_order(self) -> list[str]:
        return [work.plan.span.name for work in self.works]

    def declared_splits(self, test_fraction: float) -> list[str]:
        present = {split for work in self.works for split in _recorded_splits(work)}
        return split_order(set(split_names(test_fraction)) | present)


def _recorded_splits(work: SpanWork) -> set[str]:
    if work.plan.action == REUSE:
        return {image[2] for image in work.plan.previous.images}
    return {item.split for item in work.items}


def split_settings(cfg: DermflowConfig) -> SplitSettings:
    return SplitSettings(cfg.data.eval_fraction, cfg.data.test_fraction, cfg.data.split_seed,
                         cfg.retrain.reviewed_slice_fraction)


def pair_span(span: SpanFolder, cfg: DermflowConfig) -> ArchivePlan:
    table = read_isic_csvs(span.ground_truth_csv(cfg.data), span.metadata_csv(cfg.data))
    plan = plan_archive(table, list_image_files(span.images_dir(cfg.data)))
    check_missing(plan, cfg.data.max_missing_fraction)
    return plan


def _files_present(previous_uri: str | None):
    def present(record: SpanRecord) -> bool:
        return bool(previous_uri) and all(
            (Path(previous_uri) / f"Split-{split}" / name).is_file() for split, names in record.files.items() for name in names)
    return present


def plan_ingest_spans(cfg: DermflowConfig, previous_uri: str | None) -> IngestPlan:
    """Every span of the data root, what happens to it, and the items to encode with their splits."""
    if cfg.data.data_root is None:
        raise ArchiveError("data.data_root is not set: point it at the folder holding the ISIC archive")
    spans, problems = list_spans(Path(cfg.data.data_root), cfg.data)
    previous = read_manifest(previous_uri)
    settings = ingest_settings(cfg)
    current = fingerprint(settings)
    digests = {span.name: content_digest(span, cfg.data) for span in spans}
    plans, removed = plan_spans(spans, digests, previous, current, settings, _files_present(previous_uri))
    memory = SplitMemory.from_images(
        (record.name, image[0], image[1], image[2]) for record in (previous.spans if previous else []) for image in record.images)
    splits = split_settings(cfg)
    works = []
    for plan in plans:
        work = SpanWork(plan)
        if plan.action == INGEST:
            try:
                work.archive = pair_span(plan.span, cfg)
            except (IsicCsvError, ArchiveError) as exc:
                if plan.span.name == BASE_SPAN:
                    raise
                problems.append(f"span {plan.span.name}: {exc}; it is left out of this run")
                continue
            work.items = _split_items(plan.span, work.archive, memory, splits)
        works.append(work)
    _warn_split_settings(previous, splits)
    return IngestPlan(previous_uri, previous, current, settings, splits.__dict__, works, removed, problems,
                      _known_digests(works))


def _split_items(span: SpanFolder, archive: ArchivePlan, memory: SplitMemory, settings: SplitSettings) -> list[IngestItem]:
    records = [record for _, record in archive.pairs]
    assignment = assign_span_splits(span.name, span.kind, [SplitItem(r.image_id, r.lesion_id, r.diagnosis) for r in records],
                                    memory, settings)
    return [IngestItem(path, record, assignment[record.image_id], span.name) for path, record in archive.pairs]


def _warn_split_settings(previous: IngestManifest | None, splits: SplitSettings) -> None:
    if previous and previous.split_settings and previous.split_settings != splits.__dict__:
        logging.warning("IsicExampleGen: the split settings changed (%s -> %s); every image keeps the split it was "
                        "first given and the test split stays frozen (a new pipeline_name or work_dir splits anew)",
                        previous.split_settings, splits.__dict__)


def _known_digests(works: list[SpanWork]) -> dict[str, str]:
    """sha256 -> the earliest span holding it: recorded ones where the span's content is as recorded, else the files'
    own digests (read here only when a later span is encoded in the same run, which needs them)."""
    known: dict[str, str] = {}
    encoded = [index for index, work in enumerate(works) if work.plan.action == INGEST]
    for index, work in enumerate(works):
        name, previous = work.plan.span.name, work.plan.previous
        if previous is not None and previous.content == work.plan.content:
            for image in previous.images:
                known.setdefault(image[3], name)
        elif work.plan.action == INGEST and any(later > index for later in encoded):
            for item in work.items:
                known.setdefault(item.record.sha256 or _file_digest(item.path), name)
    return known


def _file_digest(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return ""


def link_reused_files(plan: IngestPlan, examples_uri: str) -> None:
    """Hard-links (else copies) the reused spans' TFRecord files from the previous artifact into this one."""
    for work in plan.works:
        if work.plan.action != REUSE:
            continue
        for split, names in work.plan.previous.files.items():
            target_dir = Path(examples_uri) / f"Split-{split}"
            target_dir.mkdir(parents=True, exist_ok=True)
            for name in names:
                source = Path(plan.previous_uri) / f"Split-{split}" / name
                try:
                    os.link(source, target_dir / name)
                except OSError:
                    shutil.copy2(source, target_dir / name)


def finish_ingest(plan: IngestPlan, outcomes: list[dict], examples_uri: str, splits: list[str]) -> tuple[IngestManifest, list[dict]]:
    """The manifest of this artifact and each span's part of the report, in ingest order."""
    by_span: dict[str, list[dict]] = {}
    for outcome in outcomes:
        by_span.setdefault(outcome.get("span", BASE_SPAN), []).append(outcome)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    records, parts = [], []
    for work in plan.works:
        span = work.plan.span
        if work.plan.action == REUSE:
            record = work.plan.previous
        else:
            span_outcomes = by_span.get(span.name, [])
            lesions = {item.record.image_id: item.record.lesion_id for item in work.items}
            record = SpanRecord(
                name=span.name, kind=span.kind, content=work.plan.content, fingerprint=plan.fingerprint, ingested_at=now,
                files=_span_files(examples_uri, span.name, splits),
                images=[[o["image_id"], lesions.get(o["image_id"], ""), o["split"], o["sha256"]]
                        for o in span_outcomes if o["status"] == OK],
                report=build_report(work.archive, span_outcomes, splits), marker=span.marker)
        records.append(record)
        parts.append({"name": span.name, "kind": span.kind, "action": work.plan.action, "reason": work.plan.reason,
                      "report": record.report})
    manifest = IngestManifest(plan.fingerprint, plan.settings, plan.split_settings, records)
    return manifest, parts


def _span_files(examples_uri: str, span: str, splits: list[str]) -> dict[str, list[str]]:
    prefix = span_file_prefix(span)
    return {split: sorted(p.name for p in (Path(examples_uri) / f"Split-{split}").glob(f"{prefix}-*"))
            for split in splits if (Path(examples_uri) / f"Split-{split}").is_dir()}


def log_plan(plan: IngestPlan) -> None:
    for work in plan.works:
        logging.info("IsicExampleGen: span %s (%s): %s, %s", work.plan.span.name, work.plan.span.kind,
                     "reused" if work.plan.action == REUSE else f"{len(work.items)} files to encode", work.plan.reason)
    for record in plan.removed:
        logging.warning("IsicExampleGen: span %s is no longer in the data root: its %d examples drop out",
                        record.name, len(record.images))
    for problem in plan.problems:
        logging.warning("IsicExampleGen: %s", problem)

