"""What every route of one app shares: the config, the served model, the micro-batcher, the stores.

    context = ServingContext.build(cfg, model, results, source_roots, require_sign_in, holder)
    app.state.context = context
    context = context_of(request)        # inside a route

Built once by :func:`dermflow.serving.app_factory.create_app`; the routes read it from the app's state.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from fastapi import Request
from fastapi.templating import Jinja2Templates

from dermflow.config import DermflowConfig, ServeConfig
from dermflow.serving.binding import is_loopback
from dermflow.isic.class_names import shown
from dermflow.serving.micro_batcher import MicroBatcher
from dermflow.serving.model_versions import ModelVersions
from dermflow.serving.prediction_body import predict_many
from dermflow.serving.results_store import ResultsStore
from dermflow.serving.served_model import ServedModelHolder
from dermflow.serving.source_files import SourceRoots
from dermflow.serving.visitor import visitor_of
from dermflow.trust.plain_words import people_percent

if TYPE_CHECKING:
    from dermflow.review import ReviewDatabase

HERE = Path(__file__).resolve().parent
NOTICE = "Research use only. This is not a diagnosis; a clinician must read every image."


@dataclass
class ServingContext:
    cfg: DermflowConfig
    holder: ServedModelHolder
    batcher: MicroBatcher
    store: ResultsStore
    sources: SourceRoots
    templates: Jinja2Templates
    review: "ReviewDatabase"
    require_sign_in: bool
    has_results: bool
    versions: ModelVersions

    @property
    def serve(self) -> ServeConfig:
        return self.cfg.serve

    @property
    def max_pixels(self) -> int:
        return self.cfg.score.max_image_pixels

    @classmethod
    def build(cls, cfg: DermflowConfig, model: str | Path, results: Sequence[str | Path], source_roots: Sequence[str | Path],
              require_sign_in: bool | None, holder: ServedModelHolder | None) -> "ServingContext":
        """``require_sign_in`` defaults to: the host is not loopback, or serve.require_sign_in.

        The review store (``review.database_url``) is opened, and migrated, first: a server that cannot
        record verdicts does not start.
        """
        from dermflow.review import open_configured_review_database

        serve = cfg.serve
        if require_sign_in is None:
            require_sign_in = serve.require_sign_in or serve.allow_remote or not is_loopback(serve.host)
        review = open_configured_review_database(cfg.review)
        holder = holder or ServedModelHolder.start(
            model, cfg.score.max_image_pixels, follow_latest=serve.follow_latest, follow_interval_s=serve.follow_interval_seconds
        )
        batcher: MicroBatcher = MicroBatcher(predict_many, serve.max_batch_size, serve.batch_wait_ms / 1000.0, serve.queue_size)
        return cls(
            cfg=cfg, holder=holder, batcher=batcher, store=ResultsStore(results), sources=SourceRoots(source_roots),
            templates=page_templates(), review=review, require_sign_in=require_sign_in, has_results=bool(results),
            versions=ModelVersions(holder),
        )


def page_templates() -> Jinja2Templates:
    """The pages' Jinja2 templates, with the filters that say numbers and classes for people."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["percent"] = people_percent
    templates.env.filters["class_name"] = shown
    return templates


def context_of(request: Request) -> ServingContext:
    return request.app.state.context


def page_values(request: Request) -> dict:
    """What every page's template needs: the served model, the notice, who is asking and their CSRF token."""
    visitor = visitor_of(request)
    return {
        "model": context_of(request).holder.served, "notice": NOTICE, "user": visitor,
        "csrf_token": visitor.csrf_token if visitor else "", "may_record": bool(visitor and visitor.may_record_verdicts),
    }
