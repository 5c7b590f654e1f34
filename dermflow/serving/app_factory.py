"""The FastAPI app: the single-image page, the JSON API, the results browser, auth and limits.

    app = create_app(cfg, model="var/registry", results=["var/scores"], source_roots=["var/inputs"])
    uvicorn.run(app, host=cfg.serve.host, port=cfg.serve.port)       # server_runner.run_server does this

Routes: ``/`` (upload page), ``/results`` (+ ``/results.csv``, ``/results/thumbnail``,
``/results/image/{path}``), ``POST /api/v1/predict``, ``GET /api/v1/model``, ``POST /api/v1/reload``
(token always), ``GET /healthz``, and FastAPI's own ``/docs``. Every response carries
``X-Model-Version``. See docs/serving.md.
"""
from __future__ import annotations

import asyncio
import base64
import csv
import dataclasses
import io
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlencode

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from dermflow.config import DermflowConfig
from dermflow.imaging import ImageRejected, decode_image, encode_jpeg, encode_png, resize_max_side
from dermflow.inference.heatmap_overlay import jet, overlay, upsample_heatmap
from dermflow.inference.lesion_predictor import LesionPrediction
from dermflow.serving.access_token import COOKIE, bearer_of, ensure_token, token_matches
from dermflow.serving.micro_batcher import MicroBatcher, QueueFull
from dermflow.serving.results_store import ResultsQuery, ResultsStore
from dermflow.serving.served_model import ServedModel, ServedModelHolder
from dermflow.serving.source_files import SourceRoots, UnsafePath
from dermflow.serving.upload_limits import read_upload
from dermflow.trust.out_of_scope_reason import WORDING, OutOfScopeReason

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
NOTICE = "Research use only. This is not a diagnosis; a clinician must read every image."
# LesionPrediction's own fields; any other field (trust outputs, when present) is passed through as is.
_CORE_FIELDS = {"probabilities", "predicted_index", "predicted_label", "gradcam"}
_OPEN_PATHS = {"/healthz"}
_PAGE_CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
IMAGE_SIDE = 512  # longest side of images the page and the results browser show
OVERLAY_SIDE = 128  # side of the transparent Grad-CAM PNG that predict returns
OVERLAY_MAX_ALPHA = 0.85


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _predict_many(items: Sequence[tuple[ServedModel, bytes]]) -> list[tuple[ServedModel, LesionPrediction]]:
    """One model call per model version present in the batch (one, except across a reload)."""
    results: list[Any] = [None] * len(items)
    groups: dict[int, tuple[ServedModel, list[int]]] = {}
    for index, (model, _) in enumerate(items):
        groups.setdefault(id(model), (model, []))[1].append(index)
    for model, indices in groups.values():
        predictions = model.predictor.predict([items[i][1] for i in indices])
        for i, prediction in zip(indices, predictions):
            results[i] = (model, prediction)
    return results


def _rejected(reason: str, message: str, status: int, model: ServedModel | None = None, **headers: str) -> JSONResponse:
    body: dict[str, Any] = {"reason": reason, "message": message}
    if model is not None:
        body["model"] = {"name": model.name, "version": model.version}
    return JSONResponse(body, status_code=status, headers=headers or None)


def heat_overlay_png(heatmap: np.ndarray, side: int = OVERLAY_SIDE) -> bytes:
    """The Grad-CAM as a transparent RGBA PNG to lay over the image: jet colours, alpha rising with the heat.

    A small PNG that the browser scales smoothly: about 1 ms, where a blended overlay at the image's
    size costs 25 to 100 ms of CPU per request (the model call itself is about 8 ms an image).
    """
    heat = upsample_heatmap(heatmap, side)
    alpha = np.rint(heat * 255.0 * OVERLAY_MAX_ALPHA).astype(np.uint8)
    return encode_png(np.concatenate([jet(heat), alpha[..., None]], axis=-1))


def _prediction_body(model: ServedModel, prediction: LesionPrediction, prepared) -> dict:
    probabilities = np.asarray(prediction.probabilities, dtype=np.float32)
    heatmap = np.asarray(prediction.gradcam, dtype=np.float32)
    body = {
        "model": {"name": model.name, "version": model.version},
        "labels": model.labels,
        "probabilities": {label: float(p) for label, p in zip(model.labels, probabilities)},
        "predicted_label": prediction.predicted_label,
        "predicted_index": int(prediction.predicted_index),
        "predicted_probability": float(probabilities[prediction.predicted_index]),
        "gradcam": {"shape": list(heatmap.shape), "values": heatmap.tolist()},
        "overlay_png_base64": base64.b64encode(heat_overlay_png(heatmap)).decode("ascii"),
        # The prepared JPEG itself: the pixels the model read, without any metadata (DICOM: pixels only).
        "image_jpeg_base64": base64.b64encode(prepared.data).decode("ascii"),
        "image": {"format": prepared.format, "width": prepared.width, "height": prepared.height},
        "notice": NOTICE,
    }
    for extra in dataclasses.fields(prediction):
        if extra.name not in _CORE_FIELDS:
            body[extra.name] = _plain(getattr(prediction, extra.name))
    if prediction.out_of_scope_reason:  # the words the page shows for the flag (docs/trust.md)
        body["out_of_scope_message"] = WORDING[OutOfScopeReason(prediction.out_of_scope_reason)]
    return body


def model_trust(calibration: dict) -> dict | None:
    """``/api/v1/model``'s "trust": what the served model's out-of-scope flag can do (calibration.json), or None."""
    if not calibration:
        return None
    scope = calibration.get("out_of_scope") or {}
    return {
        "fitted": bool((calibration.get("fit") or {}).get("fitted")),
        "temperature": calibration.get("temperature"),
        "out_of_scope": {"signals": scope.get("signals"), "in_scope_retention": scope.get("in_scope_retention"),
                         "flag": scope.get("flag")},
        "abstention": calibration.get("abstention"),
        "out_of_scope_reasons": {reason.value: WORDING[reason] for reason in OutOfScopeReason},
    }


def create_app(
    cfg: DermflowConfig,
    model: str | Path,
    results: Sequence[str | Path] = (),
    source_roots: Sequence[str | Path] = (),
    require_token: bool | None = None,
    holder: ServedModelHolder | None = None,
) -> FastAPI:
    """The app; ``require_token`` defaults to: the host is not loopback, or serve.require_token."""
    from dermflow.serving.server_runner import is_loopback

    serve = cfg.serve
    if require_token is None:
        require_token = serve.require_token or not is_loopback(serve.host)
    token = ensure_token(serve.token_file)
    holder = holder or ServedModelHolder.start(
        model, cfg.score.max_image_pixels, follow_latest=serve.follow_latest, follow_interval_s=serve.follow_interval_seconds
    )
    batcher: MicroBatcher = MicroBatcher(_predict_many, serve.max_batch_size, serve.batch_wait_ms / 1000.0, serve.queue_size)
    store = ResultsStore(results)
    sources = SourceRoots(source_roots)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    max_pixels = cfg.score.max_image_pixels

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await run_in_threadpool(batcher.close)

    app = FastAPI(
        title="dermflow", version="1", lifespan=lifespan,
        description=f"Skin-lesion classification with Grad-CAM, and a browser over batch scoring results. {NOTICE}",
    )
    app.state.holder, app.state.batcher, app.state.store = holder, batcher, store
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        """Errors as {reason, message}, like a rejected upload."""
        if isinstance(exc.detail, dict):
            body = exc.detail
        else:
            body = {"reason": "not_found" if exc.status_code == 404 else "http_error", "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        given = bearer_of(request.headers.get("authorization")) or request.cookies.get(COOKIE)
        query_token = request.query_params.get("token")
        if query_token and token_matches(query_token, token) and request.method == "GET":
            # A person opening the page with ?token=...: keep it in a cookie and drop it from the address.
            remaining = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(path + (f"?{remaining}" if remaining else ""), status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
            return response
        needs_token = (require_token and path not in _OPEN_PATHS) or path == "/api/v1/reload"
        if needs_token and not token_matches(given, token):
            response = JSONResponse(
                {"reason": "unauthorized", "message": "send Authorization: Bearer <token> (the token file is named in docs/serving.md)"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = await call_next(request)
        response.headers.setdefault("X-Model-Version", holder.served.version)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not path.startswith(("/docs", "/redoc", "/openapi")):
            response.headers.setdefault("Content-Security-Policy", _PAGE_CSP)
        return response

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict:
        current = holder.served
        return {
            "status": "ok", "model": {"name": current.name, "version": current.version},
            "follow_latest": holder.follow_latest, "queue": {"waiting": batcher.waiting, "size": serve.queue_size},
            "model_calls": batcher.batches, "largest_batch": batcher.largest_batch,
        }

    @app.get("/api/v1/model", tags=["api"])
    async def model_info() -> dict:
        current = await run_in_threadpool(holder.current)
        provenance = current.registered.read_json("provenance.json")
        return {
            "name": current.name, "version": current.version, "labels": current.labels,
            "input_size": current.image_size(),
            "image_path": dataclasses.asdict(current.predictor.image_path),
            "metrics": current.registered.read_json("metrics.json"),
            # The ArtefactCheck's verdict and flip rates (docs/trust.md, "Artefacts"); also inside metrics.
            "artefact_check": (current.registered.read_json("metrics.json") or {}).get("artefacts"),
            "provenance": provenance,
            "training_data": provenance.get("data"),
            "trust": model_trust(current.registered.read_json("calibration.json")),
            "follow_latest": holder.follow_latest,
            "notice": NOTICE,
        }

    @app.post("/api/v1/reload", tags=["api"])
    async def reload() -> dict:
        """Switch to the registry's LATEST now (always needs the bearer token)."""
        before = holder.served.version
        current = await run_in_threadpool(holder.reload)
        return {"model": {"name": current.name, "version": current.version}, "previous_version": before}

    @app.post(
        "/api/v1/predict", tags=["api"],
        openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary", "description": "JPEG, PNG or DICOM"}},
        }}}}},
    )
    async def predict(request: Request):
        """Probabilities, predicted label and Grad-CAM for one JPEG, PNG or DICOM file (multipart field ``file``)."""
        data, _ = await read_upload(request, "file", serve.max_upload_bytes)
        current = await run_in_threadpool(holder.current)
        try:
            prepared = await run_in_threadpool(current.predictor.prepare, data)
        except ImageRejected as exc:
            return _rejected(str(exc.reason), exc.message, 422, current)
        del data
        try:
            future = batcher.submit((current, prepared.data))
        except QueueFull as exc:
            return _rejected("overloaded", str(exc), 503, current, **{"Retry-After": str(serve.retry_after_seconds)})
        try:
            answered, prediction = await asyncio.wait_for(asyncio.wrap_future(future), serve.request_timeout_seconds)
        except asyncio.TimeoutError:
            future.cancel()
            return _rejected("timeout", "the model did not answer in time", 503, current, **{"Retry-After": str(serve.retry_after_seconds)})
        body = await run_in_threadpool(_prediction_body, answered, prediction, prepared)
        return JSONResponse(body, headers={"X-Model-Version": answered.version})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request):
        current = holder.served
        return templates.TemplateResponse(request, "index.html", {
            "model": current, "notice": NOTICE, "max_upload_bytes": serve.max_upload_bytes, "has_results": bool(results),
        })

    def _query(request: Request) -> ResultsQuery:
        params = request.query_params
        try:
            page = max(0, int(params.get("page", "0") or 0))
        except ValueError:
            raise HTTPException(400, detail={"reason": "bad_query", "message": "page must be a number"}) from None
        return ResultsQuery(
            label=params.get("label") or None, model_version=params.get("model_version") or None,
            run_id=params.get("run_id") or None, scored_date=params.get("scored_date") or None,
            sort=params.get("sort") or "predicted_probability", descending=params.get("order", "desc") != "asc", page=page,
        )

    @app.get("/results", response_class=HTMLResponse, include_in_schema=False)
    async def results_page(request: Request):
        query = _query(request)
        try:
            page = await run_in_threadpool(store.predictions, query, serve.page_size)
        except ValueError as exc:
            raise HTTPException(400, detail={"reason": "bad_query", "message": str(exc)}) from None
        errors = await run_in_threadpool(store.errors, query)
        base = {k: v for k, v in request.query_params.items() if k not in ("page", "token")}

        def link(**changes: Any) -> str:
            merged = {**base, **{k: v for k, v in changes.items() if v is not None}}
            return "?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})

        return templates.TemplateResponse(request, "results.html", {
            "page": page, "errors": errors, "query": query, "link": link, "notice": NOTICE,
            "csv_link": "/results.csv" + link(), "model": holder.served, "page_size": serve.page_size,
            "roots": [str(root) for root in store.roots], "urlencode": urlencode,
        })

    @app.get("/results.csv", include_in_schema=False)
    async def results_csv(request: Request):
        query = _query(request)
        try:
            header, rows = await run_in_threadpool(store.csv_rows, query)
        except ValueError as exc:
            raise HTTPException(400, detail={"reason": "bad_query", "message": str(exc)}) from None
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        return Response(buffer.getvalue(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="dermflow-results.csv"'})

    def _source_pixels(relative: str, side: int) -> np.ndarray | None:
        found = sources.find(relative)
        if found is None:
            return None
        try:
            decoded = decode_image(found.read_bytes(), max_pixels=max_pixels, shrink_to=side)
        except ImageRejected:
            return None
        return resize_max_side(decoded.pixels, side)

    @app.get("/results/thumbnail", include_in_schema=False)
    async def thumbnail(path: str, model_version: str, run_id: str):
        def render() -> bytes | None:
            png = store.heatmap_png(path, model_version, run_id)
            if png is None:
                return None
            from PIL import Image

            heat = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32) / 255.0
            pixels = _source_pixels(path, serve.thumbnail_size)
            if pixels is None:  # the source is not under any --source-root: the heatmap alone
                return encode_png(jet(upsample_heatmap(heat, serve.thumbnail_size)))
            return encode_png(overlay(pixels, heat))

        try:
            image = await run_in_threadpool(render)
        except UnsafePath as exc:
            raise HTTPException(400, detail={"reason": "unsafe_path", "message": str(exc)}) from None
        if image is None:
            raise HTTPException(404, detail={"reason": "not_found", "message": "no such row"})
        return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    @app.get("/results/image/{relative:path}", include_in_schema=False)
    async def source_image(relative: str):
        """A source image under a --source-root, decoded and re-encoded (never the raw file: DICOM stays de-identified)."""
        try:
            pixels = await run_in_threadpool(_source_pixels, relative, IMAGE_SIDE)
        except UnsafePath as exc:
            raise HTTPException(400, detail={"reason": "unsafe_path", "message": str(exc)}) from None
        if pixels is None:
            raise HTTPException(404, detail={"reason": "not_found", "message": "no such image under the source roots"})
        return Response(encode_jpeg(pixels, 90), media_type="image/jpeg")

    return app

