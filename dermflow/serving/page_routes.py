"""The HTML pages that are not the results browser: ``/`` (one image now) and the model reports.

    app.include_router(page_routes.router)
"""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from dermflow.serving.review_views import verdict_choices
from dermflow.serving.serving_context import context_of, page_values

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request):
    context = context_of(request)
    return context.templates.TemplateResponse(request, "index.html", {
        **page_values(request), **verdict_choices(), "max_upload_bytes": context.serve.max_upload_bytes,
        "has_results": context.has_results,
    })

# The report is one self-contained file: inline style, pictures as data: URIs, no script.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


@router.get("/model/report")
async def served_model_report(request: Request):
    """The served version's report."""
    version = context_of(request).holder.served.version
    return RedirectResponse(f"/models/{quote(version)}/report", status_code=303)


@router.get("/models/{version}/report", response_class=HTMLResponse)
async def model_report(request: Request, version: str):
    """A version's report: each headline figure with its split, n and interval (dermflow.evaluation.model_report)."""
    html = await run_in_threadpool(context_of(request).versions.report_html, version)
    if html is None:
        raise HTTPException(404, detail={"reason": "not_found", "message": "no such version beside the served model"})
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "private, max-age=60"})
