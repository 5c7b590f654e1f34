"""The results browser over ``dermflow score`` outputs: ``/results``, ``/results.csv``, thumbnails and source images.

    app.include_router(results_routes.router)

Source images are always decoded and re-encoded, never sent as stored (a DICOM header never leaves).
"""
from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from dermflow.imaging import ImageRejected, decode_image, encode_jpeg, encode_png, resize_max_side
from dermflow.inference.heatmap_overlay import jet, overlay, upsample_heatmap
from dermflow.isic.class_names import label_names
from dermflow.serving.prediction_body import heat_overlay_png
from dermflow.serving.results_store import ResultsQuery
from dermflow.serving.review_views import verdict_section
from dermflow.serving.serving_context import ServingContext, context_of, page_values
from dermflow.serving.source_files import UnsafePath

router = APIRouter(include_in_schema=False)

IMAGE_SIDE = 512  # longest side of the source images the results browser shows
SHA256 = re.compile(r"[0-9a-f]{64}")


def _bad_query(message: str) -> HTTPException:
    return HTTPException(400, detail={"reason": "bad_query", "message": message})


def results_query(request: Request) -> ResultsQuery:
    params = request.query_params
    raw_page = params.get("page", "0") or "0"
    if not raw_page.isdigit() or len(raw_page) > 9:
        raise _bad_query("page must be a whole number from 0 (the first page)")
    return ResultsQuery(
        label=params.get("label") or None, model_version=params.get("model_version") or None,
        run_id=params.get("run_id") or None, scored_date=params.get("scored_date") or None,
        scope=params.get("scope") or None, prediction_set=params.get("prediction_set") or None,
        sort=params.get("sort") or "predicted_probability", descending=params.get("order", "desc") != "asc", page=int(raw_page),
    )


@router.get("/results", response_class=HTMLResponse)
async def results_page(request: Request):
    context = context_of(request)
    query = results_query(request)
    try:
        page = await run_in_threadpool(context.store.predictions, query, context.serve.page_size)
    except ValueError as exc:
        raise _bad_query(str(exc)) from None
    last = max(0, (page.total - 1) // context.serve.page_size)
    if query.page > last:
        raise _bad_query(f"page {query.page} is past the last page ({last}) of these {page.total} rows")
    errors = await run_in_threadpool(context.store.errors, query)
    base = {k: v for k, v in request.query_params.items() if k != "page"}

    def link(**changes: Any) -> str:
        merged = {**base, **{k: v for k, v in changes.items() if v is not None}}
        return "?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})

    rows = [(row, context.versions.reading(row, page.labels)[1]) for row in page.rows]
    names = {**label_names(page.labels), **context.holder.served.facts.names}
    return context.templates.TemplateResponse(request, "results.html", {
        **page_values(request), "page": page, "rows": rows, "errors": errors, "query": query, "link": link,
        "csv_link": "/results.csv" + link(), "page_size": context.serve.page_size, "names": names,
        "roots": [root.name for root in context.store.roots], "urlencode": urlencode,
    })


@router.get("/results.csv")
async def results_csv(request: Request):
    context = context_of(request)
    query = results_query(request)
    try:
        header, rows = await run_in_threadpool(context.store.csv_rows, query)
    except ValueError as exc:
        raise _bad_query(str(exc)) from None
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="dermflow-results.csv"'})


def source_pixels(context: ServingContext, relative: str, side: int) -> np.ndarray | None:
    """A source file's pixels, its longer side at most ``side``; None when absent or unreadable."""
    found = context.sources.find(relative)
    if found is None:
        return None
    try:
        decoded = decode_image(found.read_bytes(), max_pixels=context.max_pixels, shrink_to=side)
    except ImageRejected:
        return None
    return resize_max_side(decoded.pixels, side)


def _thumbnail_png(context: ServingContext, path: str, model_version: str, run_id: str) -> bytes | None:
    png = context.store.heatmap_png(path, model_version, run_id)
    if png is None:
        return None
    from PIL import Image

    side = context.serve.thumbnail_size
    heat = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32) / 255.0
    pixels = source_pixels(context, path, side)
    if pixels is None:  # the source is not under any --source-root: the heatmap alone
        return encode_png(jet(upsample_heatmap(heat, side)))
    return encode_png(overlay(pixels, heat))


@router.get("/results/thumbnail")
async def thumbnail(request: Request, path: str, model_version: str, run_id: str):
    try:
        image = await run_in_threadpool(_thumbnail_png, context_of(request), path, model_version, run_id)
    except UnsafePath as exc:
        raise HTTPException(400, detail={"reason": "unsafe_path", "message": str(exc)}) from None
    if image is None:
        raise HTTPException(404, detail={"reason": "not_found", "message": "no such row"})
    return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/results/image/{relative:path}")
async def source_image(request: Request, relative: str):
    """A source image under a --source-root, decoded and re-encoded (never the raw file: DICOM stays de-identified)."""
    try:
        pixels = await run_in_threadpool(source_pixels, context_of(request), relative, IMAGE_SIDE)
    except UnsafePath as exc:
        raise HTTPException(400, detail={"reason": "unsafe_path", "message": str(exc)}) from None
    if pixels is None:
        raise HTTPException(404, detail={"reason": "not_found", "message": "no such image under the source roots"})
    return Response(encode_jpeg(pixels, 90), media_type="image/jpeg")


def _heatmap(context: ServingContext, path: str, model_version: str, run_id: str) -> bytes | None:
    png = context.store.heatmap_png(path, model_version, run_id)
    if png is None:
        return None
    from PIL import Image

    heat = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32) / 255.0
    return heat_overlay_png(heat, side=256)


@router.get("/results/heatmap")
async def heatmap(request: Request, path: str, model_version: str, run_id: str):
    """The stored Grad-CAM of one row as a transparent overlay (jet colours, alpha rising with the heat)."""
    image = await run_in_threadpool(_heatmap, context_of(request), path, model_version, run_id)
    if image is None:
        raise HTTPException(404, detail={"reason": "not_found", "message": "no such row"})
    return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


def _has_source(context: ServingContext, relative: str) -> bool:
    try:
        return context.sources.find(relative) is not None
    except UnsafePath:
        return False


def _chosen(rows: list[dict], request: Request) -> dict | None:
    """The row the address names (model_version, run_id), else the newest."""
    version, run = request.query_params.get("model_version"), request.query_params.get("run_id")
    named = [row for row in rows if (not version or row["model_version"] == version) and (not run or row["run_id"] == run)]
    return (named or rows or [None])[0]


@router.get("/results/{sha256}", response_class=HTMLResponse)
async def result_page(request: Request, sha256: str):
    """One image: its newest scoring (or the one named), the others linked, and its verdicts."""
    context = context_of(request)
    if not SHA256.fullmatch(sha256):
        raise HTTPException(404, detail={"reason": "not_found", "message": "a result is named by its file's sha256 (64 hex digits)"})
    rows = await run_in_threadpool(context.store.rows_for_sha256, sha256)
    row = _chosen(rows, request)
    values = {**page_values(request), "sha256": sha256, "row": row, "urlencode": urlencode, "request": request}
    if row is not None:
        labels = list(row["probabilities"])
        facts, reading = context.versions.reading(row, labels)
        others = [(other, context.versions.reading(other, labels)[1]) for other in rows if other is not row]
        has_source = await run_in_threadpool(_has_source, context, row["path"])
        values.update(facts=facts, reading=reading, others=others, has_source=has_source)
    values.update(await verdict_section(request, sha256, row))
    if row is None and not values["history"] and not values["kept"]:
        raise HTTPException(404, detail={"reason": "not_found", "message": "no scored row, verdict or kept image has this sha256"})
    return context.templates.TemplateResponse(request, "result.html", values)
