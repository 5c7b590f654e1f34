"""The HTML pages that are not the results browser: ``/``, the single-image page.

    app.include_router(page_routes.router)
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dermflow.serving.serving_context import NOTICE, context_of

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request):
    context = context_of(request)
    return context.templates.TemplateResponse(request, "index.html", {
        "model": context.holder.served, "notice": NOTICE, "max_upload_bytes": context.serve.max_upload_bytes,
        "has_results": context.has_results,
    })
