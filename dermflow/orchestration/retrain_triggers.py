"""What starts a retraining, and what its first task does (docs/airflow.md#continuous-training).

    asset = training_data_asset(cfg)                 # Asset "dermflow-training-data-<pipeline_name>"
    news = whats_new(cfg)                            # spans landed, new verdicts, the last ingest: for the watcher
    started = started_by(context)                    # "the schedule" / "an asset event: 20 new verdicts ..." / ...
    prepared = prepare_training_data(cfg, context)   # the retraining DAG's head task: interval check, reviewed span

The retraining DAG runs on ``airflow.schedule`` **or** when the training-data asset gets an event
(``AssetOrTimeSchedule``). The watcher DAG (``retrain.watch_schedule``, hourly) emits that event
when a span landed in the data root that the last ingest did not hold (a batch, or a hand-run
``dermflow verdicts export --as-span``), or when ``retrain.min_new_verdicts`` images have a current
verdict with one of ``review.training_bases`` recorded since the reviewed-cases span was last
written. The head task of the retraining DAG then writes that span from the store, so the run's
ingest holds every reviewed case. ``retrain.min_interval_hours`` skips a scheduled or
asset-triggered run that comes too soon after the last ingest; a manual trigger always runs.

The last ingest is read from ML Metadata: the newest Examples artifact of IsicExampleGen, whose
``dermflow_spans`` property lists the spans it holds. Airflow and ML Metadata are imported only in
the functions that need them, and TensorFlow never.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dermflow.config import DermflowConfig
from dermflow.isic.span_layout import SPANS_DIR, content_digest, list_spans, read_marker
from dermflow.isic.span_manifest import SPANS_PROPERTY

log = logging.getLogger(__name__)

TRAINING_DATA_ASSET = "dermflow-training-data"
INGEST_NODE = "IsicExampleGen"
REVIEWED_SPAN = "reviewed"  # dermflow.review.reviewed_span.REVIEWED_SPAN (not imported: the DAG parse stays light)


def training_data_asset(cfg: DermflowConfig):
    """The Airflow Asset whose events say that new training data is there."""
    from airflow.sdk import Asset

    return Asset(name=f"{TRAINING_DATA_ASSET}-{cfg.pipeline_name}")


@dataclass(frozen=True)
class LastIngest:
    spans: list[dict]  # the dermflow_spans summary: name, kind, content (16 hex), fingerprint, ingested_at, examples
    at: datetime  # when that Examples artifact was made


def last_ingest(cfg: DermflowConfig) -> LastIngest | None:
    """The newest Examples of IsicExampleGen in ML Metadata, or None (no store yet, or never ingested)."""
    if not cfg.paths.metadata_connection and not cfg.paths.resolved_metadata_path().is_file():
        return None
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    from dermflow.pipelines.training.training_pipeline import metadata_connection_config
    from dermflow.tfx_runtime.metadata_password import with_password

    store = metadata_store.MetadataStore(with_password(metadata_connection_config(cfg), cfg.paths))
    context = store.get_context_by_type_and_name("node", f"{cfg.pipeline_name}.{INGEST_NODE}")
    if context is None:
        return None
    live = [a for a in store.get_artifacts_by_context(context.id)
            if a.state == metadata_store_pb2.Artifact.LIVE and SPANS_PROPERTY in a.custom_properties]
    if not live:
        return None
    newest = max(live, key=lambda a: (a.create_time_since_epoch, a.id))
    return LastIngest(json.loads(newest.custom_properties[SPANS_PROPERTY].string_value),
                      datetime.fromtimestamp(newest.create_time_since_epoch / 1000, timezone.utc))


def landed_spans(cfg: DermflowConfig, last: LastIngest | None) -> list[str]:
    """Spans of the data root the last ingest did not hold as they are now (new, or changed since)."""
    if cfg.data.data_root is None or not Path(cfg.data.data_root).is_dir():
        return []
    spans, _ = list_spans(Path(cfg.data.data_root), cfg.data)
    recorded = {span["name"]: span["content"] for span in (last.spans if last else [])}
    return [span.name for span in spans if recorded.get(span.name) != content_digest(span, cfg.data)[:16]]


def reviewed_until(cfg: DermflowConfig) -> datetime | None:
    """Up to when the reviewed-cases span in the data root holds the verdicts; None when there is none."""
    if cfg.data.data_root is None:
        return None
    marker, _ = read_marker(Path(cfg.data.data_root) / SPANS_DIR / REVIEWED_SPAN)
    until = marker.get("verdicts_until")
    return datetime.fromisoformat(until) if until else None


def open_review_store(cfg: DermflowConfig):
    """The review store, or None when it is a SQLite file that does not exist (no verdict was ever recorded)."""
    from dermflow.review import open_configured_review_database

    url = cfg.review.database_url
    if url.startswith("sqlite:") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    return open_configured_review_database(cfg.review)


def new_verdicts(cfg: DermflowConfig, since: datetime | None) -> int:
    from dermflow.review import count_verdicts_since

    db = open_review_store(cfg)
    if db is None:
        return 0
    try:
        return count_verdicts_since(db, since or datetime(1970, 1, 1, tzinfo=timezone.utc), cfg.review.training_bases)
    finally:
        db.close()


@dataclass
class WhatsNew:
    landed: list[str]
    verdicts: int
    verdicts_since: datetime | None
    last: LastIngest | None
    reasons: list[str] = field(default_factory=list)

    def event_extra(self) -> dict[str, Any]:
        return {"reason": "; ".join(self.reasons), "spans_landed": ",".join(self.landed), "new_verdicts": self.verdicts,
                "verdicts_since": self.verdicts_since.isoformat() if self.verdicts_since else ""}


def whats_new(cfg: DermflowConfig) -> WhatsNew:
    """What the watcher looks at; ``reasons`` is empty when nothing calls for a retraining."""
    last = last_ingest(cfg)
    since = reviewed_until(cfg)
    news = WhatsNew(landed_spans(cfg, last), new_verdicts(cfg, since), since, last)
    if news.landed:
        news.reasons.append(f"span(s) landed: {', '.join(news.landed)}")
    if news.verdicts >= cfg.retrain.min_new_verdicts:
        news.reasons.append(f"{news.verdicts} new verdict(s) since {since.isoformat() if since else 'the start'} "
                            f"(retrain.min_new_verdicts={cfg.retrain.min_new_verdicts})")
    return news


def too_soon(cfg: DermflowConfig, last: LastIngest | None, now: datetime | None = None) -> str | None:
    """The reason to wait, when the last ingest is less than ``retrain.min_interval_hours`` old."""
    if last is None or cfg.retrain.min_interval_hours <= 0:
        return None
    age = (now or datetime.now(timezone.utc)) - last.at
    if age >= timedelta(hours=cfg.retrain.min_interval_hours):
        return None
    return (f"the last ingest was {age.total_seconds() / 3600:.1f} h ago ({last.at.isoformat(timespec='seconds')}), "
            f"less than retrain.min_interval_hours={cfg.retrain.min_interval_hours:g}")


def started_by(context: dict[str, Any]) -> tuple[str, str]:
    """(run type, one line saying what started the run) from the task context."""
    dag_run = context.get("dag_run")
    run_type = str(getattr(getattr(dag_run, "run_type", None), "value", getattr(dag_run, "run_type", "manual")))
    if run_type == "asset_triggered":
        events = [event for events in (context.get("triggering_asset_events") or {}).values() for event in events]
        reasons = sorted({str((getattr(event, "extra", None) or {}).get("reason") or "an asset event") for event in events})
        return run_type, "an asset event: " + ("; ".join(reasons) or "new training data")
    if run_type == "scheduled":
        return run_type, "the schedule (airflow.schedule)"
    return run_type, f"a {run_type} trigger"


def prepare_training_data(cfg: DermflowConfig, context: dict[str, Any]) -> dict[str, Any]:
    """The retraining DAG's head task; raises ``AirflowSkipException`` when the run comes too soon."""
    from airflow.sdk.exceptions import AirflowSkipException

    run_type, why = started_by(context)
    log.info("this retraining was started by %s", why)
    if run_type in ("scheduled", "asset_triggered"):
        wait = too_soon(cfg, last_ingest(cfg))
        if wait:
            raise AirflowSkipException(f"not retraining now: {wait}; started by {why}")
    return {"started_by": why, "run_type": run_type, "reviewed_span": export_span(cfg)}


def export_span(cfg: DermflowConfig) -> dict[str, Any]:
    """Writes the reviewed cases into the data root's span ``reviewed`` (see dermflow.review.reviewed_span)."""
    from dermflow.imaging.model_input import ImagePathSettings
    from dermflow.review.reviewed_span import export_reviewed_span, source_roots_of

    root = cfg.data.data_root
    if root is None or not Path(root).is_dir():
        log.info("no reviewed-cases span: the data root %s is not a folder (the ingest task says more)", root)
        return {}
    db = open_review_store(cfg)
    if db is None:
        log.info("no reviewed-cases span: there is no review store at %s", cfg.review.database_url)
        return {}
    try:
        export = export_reviewed_span(db, Path(root), cfg.review.training_bases, source_roots_of(cfg),
                                      ImagePathSettings.from_config(cfg.data), cfg.data)
    finally:
        db.close()
    log.info("reviewed cases: %s span %s, %d image(s) %s, verdicts up to %s", "wrote" if export.changed else "unchanged",
             export.path, export.images, export.by_diagnosis, export.verdicts_until)
    for case in export.unavailable:
        log.warning("reviewed case left out, its image could not be read: verdict %s %s %s: %s", case["verdict_id"],
                    case["sha256"][:12], case["image_path"] or "", case["reason"])
    return {"path": str(export.path), "images": export.images, "changed": export.changed,
            "unavailable": len(export.unavailable), "verdicts_until": export.verdicts_until}
