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

Each file is prepared exactly as ingest prepared the training and evaluation images, with the
settings recorded in the model (``dermflow.imaging.model_input``), and the model decodes and resizes
those bytes in its own graph: what it sees is what TFMA evaluated.

Every file given leaves by exactly one branch, and the launcher checks it:
scored + skipped_already_scored + rejected == files_given, or the run fails.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

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
    from dermflow.imaging.model_input import LegacyImagePathError
    from dermflow.models.export_layout import read_export_image_path
    from dermflow.pipelines.scoring.input_listing import list_input_files
    from dermflow.pipelines.scoring.job_progress import ProgressLines, progress_dir
    from dermflow.pipelines.scoring.scored_index import read_scored_sha256
    from dermflow.pipelines.scoring.score_rows import RunContext
    from dermflow.pipelines.scoring.staged_output import Heartbeat, OutputLayout, remove_dead_staging, remove_staging

    started = datetime.now(timezone.utc)
    run_id = run_id or new_run_id(started)
    if not _RUN_ID.match(run_id):
        raise ScoringError(f"run id {run_id!r} must be letters, digits, '.', '_' or '-' (it names folders)")
    registered = resolve_model(model, default_name=cfg.model_name)
    labels = registered.labels
    try:
        image_path = read_export_image_path(registered.saved_model_dir, cfg.score.max_image_pixels)
    except LegacyImagePathError as exc:
        raise ScoringError(f"{registered.name}/{registered.version}: {exc}") from None
    layout = OutputLayout(str(output), run_id, registered.version, started.strftime("%Y-%m-%d"), shard)
    context = RunContext(run_id, registered.name, registered.version, tuple(labels), cfg.score.heatmap_png_size)

    files = list(files) if files is not None else list_input_files(list(inputs), exclude_under=str(output))
    scored_before = read_scored_sha256(layout.predictions_dir, registered.version) if cfg.score.skip_scored else frozenset()
    _LOG.info(
        "scoring %d files with %s/%s (%d images already scored by this version); run %s",
        len(files), registered.name, registered.version, len(scored_before), run_id,
    )
    if say:
        say(f"score: {len(files)} files given; {len(scored_before)} images already scored by this version; run {run_id}")
    for dead in remove_dead_staging(str(output), cfg.score.staging_dead_after_seconds, keep_run=run_id):
        _LOG.warning("removed the staging of run %s, which died before publishing", dead)
    remove_staging(layout)
    clock = time.monotonic()
    progress = progress_dir(layout)
    with Heartbeat(layout, cfg.score.staging_heartbeat_seconds):
        with ProgressLines(progress, len(files), cfg.score.progress_seconds, say) if say else contextlib.nullcontext():
            _run_beam_job(cfg, files, registered, image_path, layout, context, scored_before, beam_args or [], progress)
        _LOG.info("Beam job done in %.1f s; publishing", time.monotonic() - clock)
        summary = _publish(layout, files)
    summary.update(run_id=run_id, model_name=registered.name, model_version=registered.version, output=str(output))
    summary.update(_write_reports(cfg, registered, layout, files))
    summary["seconds"] = round(time.monotonic() - clock, 1)
    remove_staging(layout)
    summary["summary_json"] = _write_summary(layout, summary)
    _LOG.info(
        "run %s: %d scored, %d skipped (already scored), %d rejected of %d files given",
        run_id, summary["scored"], summary["skipped_already_scored"], summary["rejected"], summary["files_given"],
    )
    return summary


def beam_pipeline_args(cfg: DermflowConfig, beam_args: list[str]) -> list[str]:
    """The config's Beam options, then the command line's (after ``--``), which win."""
    extra = list(beam_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    return cfg.beam.pipeline_args() + extra


def _run_beam_job(cfg, files, registered, image_path, layout, context, scored_before, beam_args, progress) -> None:
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
    from apache_beam.options.pipeline_options import PipelineOptions

    from dermflow.pipelines.scoring.gradcam_model_handler import GradcamModelHandler
    from dermflow.pipelines.scoring.image_preparation_dofn import REJECTED, SKIPPED, PrepareImageDoFn
    from dermflow.pipelines.scoring.job_progress import FilesDoneCounter
    from dermflow.pipelines.scoring.overlay_writer import WriteOverlayDoFn
    from dermflow.pipelines.scoring.score_rows import error_row, prediction_row
    from dermflow.pipelines.scoring.staged_output import ERRORS, PREDICTIONS, STAGED_SUFFIX

    handler = KeyedModelHandler(GradcamModelHandler(
        str(registered.saved_model_dir), cfg.score.max_image_pixels,
        min_batch_size=cfg.score.min_batch_size, max_batch_size=cfg.score.max_batch_size,
    ))
    options = PipelineOptions(beam_pipeline_args(cfg, beam_args))
    with beam.Pipeline(options=options) as pipeline:
        decoded = (
            pipeline
            | "FilesGiven" >> beam.Create(files)
            | "Spread" >> beam.Reshuffle()
            | "Prepare" >> beam.ParDo(PrepareImageDoFn(image_path, scored_before)).with_outputs(
                REJECTED, SKIPPED, main="images"
            )
        )
        results = decoded.images | "GradCam" >> RunInference(handler)
        _ = (
            results
            | "PredictionRows" >> beam.MapTuple(lambda key, result: prediction_row(key, result.inference, context))
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
            (results, decoded[REJECTED], decoded[SKIPPED])
            | "FilesDone" >> beam.Flatten()
            | "CountFilesDone" >> beam.ParDo(FilesDoneCounter(progress, cfg.score.progress_seconds))
        )
        if cfg.score.write_overlays:
            _ = results | "WriteOverlays" >> beam.ParDo(WriteOverlayDoFn(layout.overlays_dir, cfg.score.max_image_pixels))


def _count_lines(paths: list[str]) -> int:
    from apache_beam.io.filesystems import FileSystems

    total = 0
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            total += sum(1 for line in handle.read().splitlines() if line)
    return total


def _publish(layout, files) -> dict:
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
    }


def _rejected_by_reason(files: list[str]) -> dict[str, int]:
    import collections

    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    counts: collections.Counter = collections.Counter()
    for path in files:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            counts.update(pq.read_table(handle, columns=["reason"]).column("reason").to_pylist())
    return dict(sorted(counts.items()))


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
        f"  predictions : {summary['predictions_dir']}  (Parquet, hive-partitioned)",
        f"  errors      : {summary['errors_dir']}",
        f"  gallery     : {summary.get('gallery', '')}",
        f"  ISIC CSV    : {summary.get('isic_csv', '')}",
        f"  summary     : {summary.get('summary_json', '')}  (--json prints it)",
    ])


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
                                    facts_of_export(registered.saved_model_dir),
                                    _link_from(layout.gallery_path(), report) if report.is_file() else None)
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
