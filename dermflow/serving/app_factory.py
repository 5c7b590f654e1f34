"""The FastAPI app: the context every route shares, the security middleware, the error handlers, the routers.

    app = create_app(cfg, model="var/registry", results=["var/scores"], source_roots=["var/inputs"])
    uvicorn.run(app, host=cfg.serve.host, port=cfg.serve.port)       # server_runner.run_server does this

Routes: ``page_routes`` (``/``, the model reports), ``results_routes`` (``/results``, ``/results.csv``,
thumbnails, heatmaps, source images, ``/results/<sha256>``), ``review_routes`` (the queue, verdict
forms, ``/api/v1/verdicts``, reviewed cases), ``account_routes`` (sign-in, API token, accounts),
``monitoring_routes`` (``/monitoring``, ``/api/v1/monitoring``: each run's drift check),
``api_routes`` (``POST /api/v1/predict``, ``GET /api/v1/model``, ``POST /api/v1/reload``,
``GET /healthz``), and FastAPI's own ``/docs``. ``security`` checks every request first. See
docs/serving.md.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Sequence

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from dermflow.config import DermflowConfig
from dermflow.serving import account_routes, api_routes, monitoring_routes, page_routes, results_routes, review_routes
from dermflow.serving.http_errors import install_error_handlers
from dermflow.serving.security import SecurityMiddleware
from dermflow.serving.served_model import ServedModelHolder
from dermflow.serving.serving_context import HERE, NOTICE, ServingContext


def create_app(
    cfg: DermflowConfig,
    model: str | Path,
    results: Sequence[str | Path] = (),
    source_roots: Sequence[str | Path] = (),
    require_sign_in: bool | None = None,
    holder: ServedModelHolder | None = None,
) -> FastAPI:
    """The app; ``require_sign_in`` defaults to: --allow-remote, a host that is not loopback, or serve.require_sign_in."""
    context = ServingContext.build(cfg, model, results, source_roots, require_sign_in, holder)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await run_in_threadpool(context.batcher.close)
        context.review.close()

    app = FastAPI(
        title="dermflow", version="1", lifespan=lifespan,
        description=f"Skin-lesion classification with Grad-CAM, and a browser over batch scoring results. {NOTICE}",
    )
    app.state.context = context
    app.state.holder, app.state.batcher, app.state.store = context.holder, context.batcher, context.store
    install_error_handlers(app)
    app.add_middleware(SecurityMiddleware, context=context)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for routes in (api_routes, page_routes, results_routes, review_routes, account_routes, monitoring_routes):
        app.include_router(routes.router)
    return app
