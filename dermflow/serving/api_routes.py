"""The JSON API: ``POST /api/v1/predict``, ``GET /api/v1/model``, ``POST /api/v1/reload``, ``GET /healthz``.

    app.include_router(api_routes.router)

Every route reads the app's :class:`~dermflow.serving.serving_context.ServingContext`.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import posixpath
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from dermflow.imaging import ImageRejected
from dermflow.models.export_layout import read_export_calibration
from dermflow.serving.api_models import PredictResponse
from dermflow.serving.http_errors import error_response, error_responses
from dermflow.serving.micro_batcher import QueueFull
from dermflow.serving.prediction_body import prediction_body
from dermflow.serving.serving_context import NOTICE, context_of
from dermflow.serving.upload_limits import read_upload
from dermflow.trust.out_of_scope_reason import WORDING, OutOfScopeReason

router = APIRouter()

_PREDICT_REQUEST = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "JPEG, PNG or DICOM"}},
}}}}}


_ABSOLUTE = re.compile(r"^(?:file:/+|/|[A-Za-z]:[\\/])")


def _model_of(served) -> dict:
    return {"name": served.name, "version": served.version}


def without_server_paths(value: Any) -> Any:
    """Absolute paths (``/x/y/z.h5``, ``file:///x``, ``C:\\x``) -> their last component: no server layout leaves."""
    if isinstance(value, str) and _ABSOLUTE.match(value):
        return posixpath.basename(value.replace("\\", "/").rstrip("/")) or "(a server path)"
    if isinstance(value, dict):
        return {key: without_server_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_server_paths(item) for item in value]
    return value


@router.get("/healthz", tags=["service"])
def healthz(request: Request) -> dict:
    context = context_of(request)
    current, batcher = context.holder.served, context.batcher
    return {
        "status": "ok", "model": _model_of(current),
        "follow_latest": context.holder.follow_latest, "queue": {"waiting": batcher.waiting, "size": context.serve.queue_size},
        "model_calls": batcher.batches, "largest_batch": batcher.largest_batch,
    }


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


@router.get("/api/v1/model", tags=["api"])
async def model_info(request: Request) -> dict:
    context = context_of(request)
    current = await run_in_threadpool(context.holder.current)
    provenance = current.registered.read_json("provenance.json")
    metrics = current.registered.read_json("metrics.json")
    return without_server_paths({
        "name": current.name, "version": current.version, "labels": current.labels,
        "input_size": current.image_size(),
        "image_path": dataclasses.asdict(current.predictor.image_path),
        "metrics": metrics,
        # The ArtefactCheck's verdict and flip rates (docs/trust.md, "Artefacts"); also inside metrics.
        "artefact_check": (metrics or {}).get("artefacts"),
        "provenance": provenance,
        "training_data": provenance.get("data"),
        "trust": model_trust(read_export_calibration(current.registered.saved_model_dir)),
        "follow_latest": context.holder.follow_latest,
        "notice": NOTICE,
    })


@router.post("/api/v1/reload", tags=["api"])
async def reload(request: Request) -> dict:
    """Switch to the registry's LATEST now (always needs the bearer token)."""
    holder = context_of(request).holder
    before = holder.served.version
    current = await run_in_threadpool(holder.reload)
    return {"model": _model_of(current), "previous_version": before}


@router.post("/api/v1/predict", tags=["api"], openapi_extra=_PREDICT_REQUEST, response_model=PredictResponse,
             responses=error_responses(400, 401, 413, 422, 500, 503))
async def predict(request: Request):
    """Probabilities, predicted label and Grad-CAM for one JPEG, PNG or DICOM file (multipart field ``file``)."""
    context = context_of(request)
    serve = context.serve
    data, _ = await read_upload(request, "file", serve.max_upload_bytes, serve.max_form_parts)
    current = await run_in_threadpool(context.holder.current)
    model = {"model": _model_of(current)}
    retry = {"Retry-After": str(serve.retry_after_seconds)}
    try:
        prepared = await run_in_threadpool(current.predictor.prepare, data)
    except ImageRejected as exc:
        return error_response(str(exc.reason), exc.message, 422, **model)
    sha256 = hashlib.sha256(data).hexdigest()
    del data
    try:
        future = context.batcher.submit((current, prepared.data))
    except QueueFull as exc:
        return error_response("overloaded", str(exc), 503, retry, **model)
    try:
        answered, prediction = await asyncio.wait_for(asyncio.wrap_future(future), serve.request_timeout_seconds)
    except asyncio.TimeoutError:
        future.cancel()
        return error_response("timeout", "the model did not answer in time", 503, retry, **model)
    body = await run_in_threadpool(prediction_body, answered, prediction, prepared, NOTICE)
    body["sha256"] = sha256
    return JSONResponse(body, headers={"X-Model-Version": answered.version})
