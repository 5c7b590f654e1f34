"""Batch scoring of image folders with Beam: Grad-CAM predictions to Parquet.

    dermflow score --input DIR_OR_GLOB [--input ...] --model REGISTRY[/NAME[/VERSION]] --output DIR [-- BEAM_ARGS]

    summary = run_scoring(cfg, inputs=["/archive"], model="var/registry", output=Path("var/scores"))

The launcher lists the files given, reads which of them this model version has already scored,
runs the Beam job, publishes its staged Parquet into the Hive-partitioned dataset, and writes the
ISIC CSV and the HTML gallery. Beam graph (the parts live in ``dermflow.pipelines.scoring``)::

    Create(files) -> Reshuffle -> PrepareImageDoFn -+-- images   -> RunInference(Keyed(GradcamModelHandler))
                                                    |                 -> prediction rows -> WriteToParquet (staged)
                                                    |                 -> overlay PNGs (score.write_overlays)
                                                    +-- rejected -> error rows -> WriteToParquet (staged)
                                                    +-- skipped  -> WriteToText (staged; counted)
    inferred + rejected + skipped -> Flatten -> FilesDoneCounter (progress files; ``say`` gets the lines)
    with score.dicom_results / score.fhir_results (``dermflow.clinical``, docs/scoring.md#clinical-results):
    (key, prediction row) + export_pending -> ClinicalExportDoFn -> clinical_exports rows -> WriteToParquet (staged)
                                                                 (SR + segmentation files, STOW-RS, FHIR shards)

Each file is prepared exactly as ingest prepared the training and evaluation images, with the
settings recorded in the model (``dermflow.imaging.model_input``), and the model decodes and resizes
those bytes in its own graph: what it sees is what TFMA evaluated.

Every file given leaves by exactly one branch, and the launcher checks it:
scored + skipped_already_scored + rejected == files_given, or the run fails. With SRs on, every DICOM
image scored (or whose earlier export failed) has exactly one clinical_exports row, or the run fails.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from dermflow.config import DermflowConfig
from dermflow.registry import RegisteredModel, resolve_model
from dermflow.schemas.scores_schema import ERRORS_SCHEMA, PREDICTIONS_SCHEMA

_LOG = logging.getLogger("dermflow.scoring")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SKIPPED_TABLE = "skipped"


class ScoringError(RuntimeError):
    """The run's accounting does not add up, or its inputs are unusable; nothing was published."""


def new_run_id(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True)
class BeamJob:
    """What the Beam job is given, all decided by the launcher before it starts."""

    cfg: DermflowConfig
    files: list  # InputFile
    saved_model_dir: str
    image_path: Any  # dermflow.imaging.model_input.ImagePathSettings, from the model's provenance
    layout: Any  # dermflow.pipelines.scoring.staged_output.OutputLayout
    context: Any  # dermflow.pipelines.scoring.score_rows.RunContext
    scored_before: frozenset[str]
    beam_args: list[str]
    progress_dir: str
    clinical: Any = None  # dermflow.pipelines.scoring.clinical_outputs.ClinicalRun, or None


def run_scoring(
    cfg: DermflowConfig,
    inputs: list[str],
    model: str,
    output: Path,
    run_id: str | None = None,
    beam_args: list[str] | None = None,
    files: list | None = None,
    shard: str = "",
    say: Callable[[str], None] | None = None,
) -> dict:
    """Scores every file under ``inputs`` with ``model``; returns the run's summary (see the module docstring).

    ``files`` (``InputFile``s, e.g. a shard manifest) replaces listing ``inputs``. ``shard`` names one
    of several tasks scoring the same ``run_id``: its staging folder and published files carry it.
    ``say`` gets the console lines (``dermflow score`` prints them); the log gets them anyway.
    """
    from dermflow.pipelines.scoring.job_progress import ProgressLines
    from dermflow.pipelines.scoring.staged_output import Heartbeat, remove_dead_staging, remove_staging

    started = datetime.now(timezone.utc)
    run_id = run_id or new_run_id(started)
    if not _RUN_ID.match(run_id):
        raise ScoringError(f"run id {run_id!r} must be letters, digits, '.', '_' or '-' (it names folders)")
    registered = resolve_model(model, default_name=cfg.model_name)
    job = _prepare_job(cfg, registered, inputs, output, files, run_id, started, shard, beam_args or [])
    layout, files = job.layout, job.files
    _LOG.info(
        "scoring %d files with %s/%s (%d images already scored by this version); run %s",
        len(files), registered.name, registered.version, len(job.scored_before), run_id,
    )
    if say:
        say(f"score: {len(files)} files given; {len(job.scored_before)} images already scored by this version; run {run_id}")
    for dead in remove_dead_staging(str(output), cfg.score.staging_dead_after_seconds, keep_run=run_id):
        _LOG.warning("removed the staging of run %s, which died before publishing", dead)
    remove_staging(layout)
    clock = time.monotonic()
    with Heartbeat(layout, cfg.score.staging_heartbeat_seconds):
        with ProgressLines(job.progress_dir, len(files), cfg.score.progress_seconds, say) if say else contextlib.nullcontext():
            _run_beam_job(job)
        _LOG.info("Beam job done in %.1f s; publishing", time.monotonic() - clock)
        summary = _publish(layout, files, job.clinical, registered.name)
    summary.update(run_id=run_id, model_name=registered.name, model_version=registered.version, output=str(output))
    summary.update(_write_reports(cfg, registered, layout, files))
    summary["drift"] = _check_drift(cfg, registered, layout)
    summary["seconds"] = round(time.monotonic() - clock, 1)
    remove_staging(layout)
    summary["summary_json"] = _write_summary(layout, summary)
    _LOG.info(
        "run %s: %d scored, %d skipped (already scored), %d rejected of %d files given",
        run_id, summary["scored"], summary["skipped_already_scored"], summary["rejected"], summary["files_given"],
    )
    return summary


def _prepare_job(cfg, registered, inputs, output, files, run_id, started, shard, beam_args) -> BeamJob:
    """Lists the inputs, reads what is already scored or still to export, and fixes the job's parameters."""
    from dermflow.imaging.model_input import LegacyImagePathError
    from dermflow.models.export_layout import read_export_image_path
    from dermflow.pipelines.scoring.clinical_outputs import prepare_clinical_run
    from dermflow.pipelines.scoring.input_listing import list_input_files
    from dermflow.pipelines.scoring.job_progress import progress_dir
    from dermflow.pipelines.scoring.scored_index import read_scored_sha256
    from dermflow.pipelines.scoring.score_rows import RunContext
    from dermflow.pipelines.scoring.staged_output import OutputLayout

    try:
        image_path = read_export_image_path(registered.saved_model_dir, cfg.score.max_image_pixels)
    except LegacyImagePathError as exc:
        raise ScoringError(f"{registered.name}/{registered.version}: {exc}") from None
    layout = OutputLayout(str(output), run_id, registered.version, started.strftime("%Y-%m-%d"), shard)
    context = RunContext(run_id, registered.name, registered.version, tuple(registered.labels), cfg.score.heatmap_png_size)
    if files is None:
        files = list_input_files(list(inputs), exclude_under=str(output), dicomweb_conn_id=cfg.score.dicomweb_conn_id)
    scored_before = read_scored_sha256(layout.predictions_dir, registered.version) if cfg.score.skip_scored else frozenset()
    return BeamJob(
        cfg=cfg, files=list(files), saved_model_dir=str(registered.saved_model_dir), image_path=image_path,
        layout=layout, context=context, scored_before=scored_before, beam_args=list(beam_args),
        progress_dir=progress_dir(layout), clinical=prepare_clinical_run(cfg, layout, output),
    )


def beam_pipeline_args(cfg: DermflowConfig, beam_args: list[str]) -> list[str]:
    """The config's Beam options, then the command line's (after ``--``), which win."""
    extra = list(beam_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    return cfg.beam.pipeline_args() + extra


def _run_beam_job(job: BeamJob) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from dermflow.pipelines.scoring.image_preparation_dofn import REJECTED, SKIPPED
    from dermflow.pipelines.scoring.job_progress import FilesDoneCounter
    from dermflow.pipelines.scoring.overlay_writer import WriteOverlayDoFn

    cfg = job.cfg
    with beam.Pipeline(options=PipelineOptions(beam_pipeline_args(cfg, job.beam_args))) as pipeline:
        decoded, results = _prepare_and_infer(pipeline, job)
        keyed_rows = _write_tables(decoded, results, job)
        if job.clinical is not None:
            _clinical_branch(decoded, keyed_rows, job)
        _ = (
            (results, decoded[REJECTED], decoded[SKIPPED])
            | "FilesDone" >> beam.Flatten()
            | "CountFilesDone" >> beam.ParDo(FilesDoneCounter(job.progress_dir, cfg.score.progress_seconds))
        )
        if cfg.score.write_overlays:
            _ = results | "WriteOverlays" >> beam.ParDo(WriteOverlayDoFn(job.layout.overlays_dir, cfg.score.max_image_pixels))


def _prepare_and_infer(pipeline, job: BeamJob):
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

    from dermflow.pipelines.scoring.gradcam_model_handler import GradcamModelHandler
    from dermflow.pipelines.scoring.image_preparation_dofn import EXPORT_PENDING, REJECTED, SKIPPED, PrepareImageDoFn

    score = job.cfg.score
    handler = KeyedModelHandler(GradcamModelHandler(
        job.saved_model_dir, score.max_image_pixels, min_batch_size=score.min_batch_size, max_batch_size=score.max_batch_size,
    ))
    pending = job.clinical.pending_sha256 if job.clinical is not None else frozenset()
    decoded = (
        pipeline
        | "FilesGiven" >> beam.Create(job.files)
        | "Spread" >> beam.Reshuffle()
        | "Prepare" >> beam.ParDo(PrepareImageDoFn(job.image_path, job.scored_before, pending, score.dicomweb_conn_id))
        .with_outputs(REJECTED, SKIPPED, EXPORT_PENDING, main="images")
    )
    return decoded, decoded.images | "GradCam" >> RunInference(handler)


def _write_tables(decoded, results, job: BeamJob):
    """Predictions, errors and skipped (and export_pending) to staging; returns the (key, prediction row) pairs."""
    import apache_beam as beam

    from dermflow.pipelines.scoring.clinical_outputs import EXPORT_PENDING_TABLE
    from dermflow.pipelines.scoring.image_preparation_dofn import EXPORT_PENDING, REJECTED, SKIPPED
    from dermflow.pipelines.scoring.score_rows import error_row, prediction_row
    from dermflow.pipelines.scoring.staged_output import ERRORS, PREDICTIONS, STAGED_SUFFIX

    layout, context = job.layout, job.context
    keyed_rows = results | "PredictionRows" >> beam.MapTuple(
        lambda key, result: (key, prediction_row(key, result.inference, context))
    )
    _ = (
        keyed_rows
        | "RowsOnly" >> beam.MapTuple(lambda key, row: row)
        | "WritePredictions" >> beam.io.WriteToParquet(
            layout.staging_prefix(PREDICTIONS), PREDICTIONS_SCHEMA, codec="snappy", file_name_suffix=STAGED_SUFFIX
        )
    )
    _ = (
        decoded[REJECTED]
        | "ErrorRows" >> beam.Map(error_row, context)
        | "WriteErrors" >> beam.io.WriteToParquet(
            layout.staging_prefix(ERRORS), ERRORS_SCHEMA, codec="snappy", file_name_suffix=STAGED_SUFFIX
        )
    )
    _ = decoded[SKIPPED] | "WriteSkipped" >> beam.io.WriteToText(
        layout.staging_prefix(SKIPPED_TABLE), file_name_suffix=STAGED_SUFFIX
    )
    _ = (
        decoded[EXPORT_PENDING]
        | "PendingPaths" >> beam.Map(lambda key: key.relative_path)
        | "WritePending" >> beam.io.WriteToText(layout.staging_prefix(EXPORT_PENDING_TABLE), file_name_suffix=STAGED_SUFFIX)
    )
    return keyed_rows


def _clinical_branch(decoded, keyed_rows, job: BeamJob) -> None:
    """SR + segmentation (+ STOW-RS) per DICOM image and FHIR per image; outcome rows to staged Parquet."""
    import apache_beam as beam

    from dermflow.pipelines.scoring.clinical_export_dofn import ClinicalExportDoFn, LoadPredictionRowsDoFn
    from dermflow.pipelines.scoring.clinical_outputs import CLINICAL_EXPORTS
    from dermflow.pipelines.scoring.image_preparation_dofn import EXPORT_PENDING
    from dermflow.pipelines.scoring.staged_output import STAGED_SUFFIX
    from dermflow.schemas.clinical_exports_schema import CLINICAL_EXPORTS_SCHEMA

    settings, layout = job.clinical.settings, job.layout
    if not settings.fhir_results:  # SRs only: JPEG and PNG have nothing to export
        keyed_rows = keyed_rows | "DicomOnly" >> beam.Filter(lambda pair: pair[0].format == "dicom")
    retried = (
        decoded[EXPORT_PENDING]
        | "BatchPending" >> beam.BatchElements(min_batch_size=1, max_batch_size=256)
        | "ReadPendingRows" >> beam.ParDo(LoadPredictionRowsDoFn(layout.predictions_dir, layout.model_version))
    )
    _ = (
        (keyed_rows, retried)
        | "ToExport" >> beam.Flatten()
        | "ExportClinical" >> beam.ParDo(ClinicalExportDoFn(settings, layout.model_version))
        | "WriteClinicalExports" >> beam.io.WriteToParquet(
            layout.staging_prefix(CLINICAL_EXPORTS), CLINICAL_EXPORTS_SCHEMA, codec="snappy",
            file_name_suffix=STAGED_SUFFIX,
        )
    )


def _count_lines(paths: list[str]) -> int:
    from apache_beam.io.filesystems import FileSystems

    total = 0
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            total += sum(1 for line in handle.read().splitlines() if line)
    return total


def _publish(layout, files, clinical=None, model_name: str = "") -> dict:
    from dermflow.pipelines.scoring.staged_output import (
        ERRORS, ERRORS_EXTENSION, PREDICTIONS, PREDICTIONS_EXTENSION, count_rows, publish, publish_empty_if_none,
        staged_files,
    )

    scored = count_rows(staged_files(layout, PREDICTIONS))
    rejected = count_rows(staged_files(layout, ERRORS))
    skipped = _count_lines(staged_files(layout, SKIPPED_TABLE))
    if scored + skipped + rejected != len(files):
        raise ScoringError(
            f"run {layout.run_id}: {scored} scored + {skipped} skipped + {rejected} rejected != {len(files)} files given; "
            f"nothing published, staged output left in {layout.staging_dir}"
        )
    clinical_summary = _publish_clinical(layout, clinical, model_name) if clinical is not None else {}
    reasons = _rejected_by_reason(staged_files(layout, ERRORS))
    publish_empty_if_none(
        publish(layout, PREDICTIONS, layout.predictions_partition, "part", PREDICTIONS_EXTENSION),
        layout.predictions_partition, f"part-{layout.file_tag}-empty{PREDICTIONS_EXTENSION}", PREDICTIONS_SCHEMA,
    )
    publish_empty_if_none(
        publish(layout, ERRORS, layout.errors_partition, "errors", ERRORS_EXTENSION),
        layout.errors_partition, f"errors-{layout.file_tag}-empty{ERRORS_EXTENSION}", ERRORS_SCHEMA,
    )
    return {
        "files_given": len(files), "scored": scored, "skipped_already_scored": skipped, "rejected": rejected,
        "rejected_by_reason": reasons, "predictions_dir": layout.predictions_dir, "errors_dir": layout.errors_dir,
        **clinical_summary,
    }


def _publish_clinical(layout, clinical, model_name: str) -> dict:
    """One clinical_exports row per DICOM image exported (scored now, or retried), then the files."""
    from dermflow.pipelines.scoring.clinical_outputs import EXPORT_PENDING_TABLE, publish_clinical
    from dermflow.pipelines.scoring.staged_output import PREDICTIONS, staged_files

    retried = _count_lines(staged_files(layout, EXPORT_PENDING_TABLE))
    expected = (_count_dicom(staged_files(layout, PREDICTIONS)) + retried) if clinical.settings.writes_sr else 0
    try:
        summary = publish_clinical(layout, clinical, expected, model_name)
    except RuntimeError as exc:
        raise ScoringError(str(exc)) from None
    summary["clinical_exports_retried"] = retried
    return summary


def _count_dicom(files: list[str]) -> int:
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    total = 0
    for path in files:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            total += pq.read_table(handle, columns=["format"]).column("format").to_pylist().count("dicom")
    return total


def _rejected_by_reason(files: list[str]) -> dict[str, int]:
    import collections

    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    counts: collections.Counter = collections.Counter()
    for path in files:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            counts.update(pq.read_table(handle, columns=["reason"]).column("reason").to_pylist())
    return dict(sorted(counts.items()))


def _check_drift(cfg, registered, layout) -> dict:
    """The run's drift check (docs/scoring.md, "Monitoring"); a shard's run is checked after reconcile."""
    from dermflow.pipelines.scoring import run_monitoring

    if layout.shard:
        return run_monitoring.deferred_drift(layout.shard)
    try:
        return run_monitoring.check_and_record_run(cfg, layout.output, layout.run_id, registered)
    except Exception as exc:  # the predictions are published: say so, and how to re-check
        _LOG.exception("run %s: drift check failed", layout.run_id)
        return run_monitoring.failed_drift(exc)


def _write_summary(layout, summary: dict) -> str:
    """The run's summary as JSON at ``<output>/runs/<run_id>[-<shard>].json``; returns its path."""
    import json

    from apache_beam.io.filesystems import FileSystems

    from dermflow.pipelines.scoring.staged_output import write_bytes_atomically

    path = FileSystems.join(layout.output, "runs", f"{layout.file_tag}.json")
    document = {**summary, "summary_json": path}
    write_bytes_atomically(path, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path


def scoring_summary_text(summary: dict) -> str:
    """The human end of ``dermflow score``: what happened to the files, and where everything is."""
    reasons = ", ".join(f"{count} {reason}" for reason, count in summary.get("rejected_by_reason", {}).items())
    return "\n".join([
        f"score: run {summary['run_id']} with {summary['model_name']}/{summary['model_version']}"
        f" in {summary.get('seconds', 0):.0f}s",
        f"  files given : {summary['files_given']}",
        f"  scored      : {summary['scored']}",
        f"  skipped     : {summary['skipped_already_scored']} (already scored by this version)",
        f"  rejected    : {summary['rejected']}" + (f" ({reasons})" if reasons else ""),
        *_drift_lines(summary.get("drift")),
        f"  predictions : {summary['predictions_dir']}  (Parquet, hive-partitioned)",
        f"  errors      : {summary['errors_dir']}",
        f"  gallery     : {summary.get('gallery', '')}",
        f"  ISIC CSV    : {summary.get('isic_csv', '')}",
        f"  summary     : {summary.get('summary_json', '')}  (--json prints it)",
        *_clinical_summary_lines(summary),
    ])


def _drift_lines(drift: dict | None) -> list[str]:
    from dermflow.pipelines.scoring.run_monitoring import drift_lines

    return drift_lines(drift or {})


def _clinical_summary_lines(summary: dict) -> list[str]:
    lines = []
    if "clinical_exports" in summary:
        counts = ", ".join(f"{count} {status}" for status, count in summary["clinical_exports"].items()) or "none"
        retried = summary.get("clinical_exports_retried", 0)
        lines.append(f"  DICOM SR    : {counts}" + (f" ({retried} retried from earlier runs)" if retried else ""))
        if summary.get("clinical_exports_dir"):
            lines.append(f"  exports     : {summary['clinical_exports_dir']}  (store outcomes; failed ones are retried)")
    if summary.get("fhir_dir"):
        counts = ", ".join(f"{count} {kind}" for kind, count in summary.get("fhir_resources", {}).items())
        lines.append(f"  FHIR        : {summary['fhir_dir']}  ({counts})")
    if summary.get("clinical_results_dir"):
        lines.append(f"  clinical    : {summary['clinical_results_dir']}  (patient-identifying; owner-only)")
    return lines


def _write_reports(cfg, registered, layout, files) -> dict:
    from dermflow.inference.prediction_reading import facts_of_export
    from dermflow.pipelines.scoring import run_reports
    from dermflow.pipelines.scoring.staged_output import write_bytes_atomically

    sources = {}
    for item in files:
        sources.setdefault(item.relative_path, item.path)
    rows = run_reports.read_scored_rows(layout.predictions_dir, registered.version, set(sources))
    labels = registered.labels
    groups = _model_label_groups(cfg, registered)
    write_bytes_atomically(layout.isic_csv_path(), run_reports.isic_csv_text(rows, labels, groups).encode("utf-8"))
    label = run_reports.positive_label(labels, cfg.labels.positive_label)
    top = run_reports.top_rows(rows, label, cfg.score.gallery_size)
    top = run_reports.with_heatmaps(top, layout.predictions_dir, registered.version)
    title = f"{registered.name} {registered.version}: top {len(top)} by {label} probability (run {layout.run_id})"
    report = registered.path / "report" / "report.html"
    page = run_reports.gallery_html(top, label, title, sources, cfg.score.max_image_pixels,
                                    facts_of_export(registered.saved_model_dir), cfg.score.dicomweb_conn_id,
                                    report_link=_link_from(layout.gallery_path(), report) if report.is_file() else None)
    write_bytes_atomically(layout.gallery_path(), page.encode("utf-8"))
    return {"gallery": layout.gallery_path(), "isic_csv": layout.isic_csv_path()}


def _link_from(page: str, target: Path) -> str:
    """``target`` as a link from ``page``: relative when both are local files, else the target's absolute path."""
    if "://" in str(page):
        return target.resolve().as_uri()
    return os.path.relpath(target.resolve(), Path(page).resolve().parent)


def _model_label_groups(cfg: DermflowConfig, registered: RegisteredModel) -> dict[str, list[str]]:
    """label -> ISIC codes, from the config the model was trained with (else the scoring config)."""
    trained = registered.read_json("config.json").get("labels") or {}
    if trained.get("mode") == "groups":
        return dict(trained.get("groups") or {})
    return dict(cfg.labels.groups) if cfg.labels.mode == "groups" else {}
