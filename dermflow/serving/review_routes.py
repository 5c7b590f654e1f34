"""Review: the queue, verdicts from the result page's form and from the JSON API, kept images, reviewed cases.

    app.include_router(review_routes.router)

Recording a verdict always needs a signed-in reviewer or admin (or their API token), on loopback too;
the store checks the role again. A verdict's shown prediction is taken from the results row the page
showed (model version and run), not from the form. Comments stay in the database: the API returns
them only when asked (``free_text=true``), and no log line carries them.
"""
from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from dermflow.imaging import ImageRejected
from dermflow.serving.api_models import VerdictIn, VerdictRecorded
from dermflow.serving.http_errors import error_responses
from dermflow.serving.review_queue import REASON_WORDS, QueueSettings, review_queue
from dermflow.serving.review_views import shown_prediction, verdict_words
from dermflow.serving.serving_context import ServingContext, context_of, page_values
from dermflow.serving.upload_limits import read_body, read_form
from dermflow.serving.visitor import Visitor, visitor_of

router = APIRouter()


def _reviewer(request: Request) -> Visitor:
    visitor = visitor_of(request)
    if visitor is None:
        raise HTTPException(401, detail={"reason": "unauthorized", "message": "recording a verdict needs a signed-in "
                                         "reviewer (/login) or a reviewer's API token"}, headers={"WWW-Authenticate": "Bearer"})
    if not visitor.may_record_verdicts:
        raise HTTPException(403, detail={"reason": "forbidden", "message": f"{visitor.name} is a {visitor.role}: "
                                         "only reviewers and admins record verdicts"})
    return visitor


def _invalid(exc: Exception) -> HTTPException:
    return HTTPException(400, detail={"reason": "invalid_verdict", "message": str(exc)})


def queue_settings(context: ServingContext) -> QueueSettings:
    review = context.cfg.review
    return QueueSettings(tuple(review.queue_melanoma_band), review.audit_share, review.audit_seed,
                         run_audit_shares=drifted_run_audit_shares(context.store.roots, review.audit_share))


def drifted_run_audit_shares(roots, default_share: float) -> dict[str, float]:
    """run_id -> its audit share, for the runs whose drift check found drift (the share recorded with the run)."""
    from dermflow.monitoring.monitoring_reader import audit_share_of, monitoring_runs

    return {row["run_id"]: audit_share_of(row, default_share)
            for root in roots for row in monitoring_runs(root) if row.get("drift_detected")}


def _queue(context: ServingContext):
    from dermflow.review import current_verdicts

    reviewed = current_verdicts(context.review)
    return review_queue(context.store, queue_settings(context), reviewed=reviewed)


@router.get("/review/queue", response_class=HTMLResponse, include_in_schema=False)
async def queue_page(request: Request):
    context = context_of(request)
    queue = await run_in_threadpool(_queue, context)

    def readings(entries):
        return [(entry, context.versions.reading(entry.row, list(entry.row["probabilities"]))[1]) for entry in entries]

    return context.templates.TemplateResponse(request, "queue.html", {
        **page_values(request), "queue": queue, "needs_review": readings(queue.needs_review),
        "random_audit": readings(queue.random_audit), "reason_words": REASON_WORDS, "settings": queue_settings(context),
        "urlencode": urlencode,
    })


def _scored_row(context: ServingContext, sha256: str, model_version: str | None, run_id: str | None) -> dict | None:
    if not model_version:
        return None
    rows = context.store.rows_for_sha256(sha256)
    return next((r for r in rows if r["model_version"] == model_version and (not run_id or r["run_id"] == run_id)), None)


def _record_from_form(context: ServingContext, visitor: Visitor, sha256: str, form: dict[str, str]):
    """A new verdict, or (``supersedes``) the correction of one, which keeps what the first was shown and why."""
    from dermflow.review import InvalidVerdictError, correct_verdict, get_verdict, record_verdict

    supersedes = form.get("supersedes") or None
    if supersedes:
        old = get_verdict(context.review, int(supersedes))
        if old is None or old.sha256 != sha256:
            raise InvalidVerdictError(f"there is no verdict {supersedes} of this image to correct")
        return correct_verdict(context.review, old.id, reviewer=visitor.name, diagnosis=form.get("diagnosis", ""),
                               basis=form.get("basis", ""), other_text=form.get("other_text"),
                               lesion_id=form.get("lesion_id"), comment=form.get("comment"))
    row = _scored_row(context, sha256, form.get("model_version"), form.get("run_id"))
    return record_verdict(
        context.review, reviewer=visitor.name, sha256=sha256, diagnosis=form.get("diagnosis", ""),
        basis=form.get("basis", ""), other_text=form.get("other_text"), lesion_id=form.get("lesion_id"),
        comment=form.get("comment"), shown=shown_prediction(row) if row else None, image_path=row["path"] if row else None,
        queue_reason=form.get("queue_reason") or "direct",
    )


@router.post("/results/{sha256}/verdicts", include_in_schema=False)
async def record_from_form(request: Request, sha256: str):
    """The result page's form: a verdict, or the correction of the current one; back to the page."""
    from dermflow.review import InvalidVerdictError, NotAllowedError

    visitor = _reviewer(request)
    form = await read_form(request, max_fields=16)
    try:
        verdict = await run_in_threadpool(_record_from_form, context_of(request), visitor, sha256, form)
    except NotAllowedError as exc:
        raise HTTPException(403, detail={"reason": "forbidden", "message": str(exc)}) from None
    except (InvalidVerdictError, ValueError) as exc:
        raise _invalid(exc) from None
    back = {k: form[k] for k in ("model_version", "run_id") if form.get(k)}
    if form.get("queue_reason") not in (None, "", "direct"):
        back["reason"] = form["queue_reason"]
    return RedirectResponse(f"/results/{verdict.sha256}?{urlencode({**back, 'recorded': verdict.id})}#verdicts", status_code=303)


@router.get("/review/kept/{sha256}.jpg", include_in_schema=False)
async def kept(request: Request, sha256: str):
    from dermflow.review import kept_image

    jpeg = await run_in_threadpool(kept_image, context_of(request).review, sha256)
    if jpeg is None:
        raise HTTPException(404, detail={"reason": "not_found", "message": "no image is kept with this sha256"})
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def verdict_json(verdict, free_text: bool = False) -> dict:
    body = {
        "id": verdict.id, "sha256": verdict.sha256, "diagnosis": verdict.diagnosis.value, "basis": verdict.basis.value,
        "lesion_id": verdict.lesion_id, "reviewer": verdict.reviewer, "recorded_at": verdict.recorded_at.isoformat(),
        "shown": None if verdict.shown is None else {
            "model_name": verdict.shown.model_name, "model_version": verdict.shown.model_version,
            "predicted_label": verdict.shown.predicted_label, "probabilities": verdict.shown.probabilities,
            "out_of_scope": verdict.shown.out_of_scope, "run_id": verdict.shown.run_id},
        "queue_reason": verdict.queue_reason.value, "image_path": verdict.image_path, "supersedes": verdict.supersedes,
        "current": verdict.current,
    }
    if free_text:
        body.update(other_text=verdict.other_text, comment=verdict.comment)
    return body


def _record_from_api(context: ServingContext, visitor: Visitor, verdict: VerdictIn):
    from dermflow.review import ShownPrediction, record_verdict

    row = _scored_row(context, verdict.sha256.lower(), verdict.model_version, verdict.run_id)
    if verdict.model_version and row is None:
        raise ValueError(f"no results row of this image scored by version {verdict.model_version!r}"
                         + (f", run {verdict.run_id!r}" if verdict.run_id else ""))
    shown = shown_prediction(row) if row else (ShownPrediction(**verdict.shown.model_dump()) if verdict.shown else None)
    keep = None
    if verdict.keep_image_jpeg_base64:
        try:
            given = base64.b64decode(verdict.keep_image_jpeg_base64, validate=True)
            keep = context.holder.served.predictor.prepare(given).data  # prepared again: no metadata, whatever was sent
        except (binascii.Error, ImageRejected) as exc:
            raise ValueError(f"keep_image_jpeg_base64 is not a readable image: {getattr(exc, 'message', 'not base64')}") from None
    return record_verdict(
        context.review, reviewer=visitor.name, sha256=verdict.sha256, diagnosis=verdict.diagnosis, basis=verdict.basis,
        other_text=verdict.other_text, lesion_id=verdict.lesion_id, comment=verdict.comment, shown=shown,
        image_path=row["path"] if row else None, queue_reason=verdict.queue_reason, supersedes=verdict.supersedes,
        keep_jpeg=keep,
    ), keep is not None


def _json_body(model) -> dict:
    """OpenAPI ``requestBody`` of a JSON body read by the route itself (so that its size is capped first)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post("/api/v1/verdicts", tags=["review"], status_code=201, response_model=VerdictRecorded,
             responses=error_responses(400, 401, 403, 413, 500), openapi_extra=_json_body(VerdictIn))
async def post_verdict(request: Request):
    """Record a verdict (a reviewer's or admin's API token, or a signed-in browser with its CSRF token)."""
    from dermflow.review import InvalidVerdictError, NotAllowedError

    visitor = _reviewer(request)
    context = context_of(request)
    body = await read_body(request, context.serve.max_upload_bytes * 4 // 3 + 64 * 1024)
    try:
        verdict = VerdictIn.model_validate(json.loads(body or b"null"))
    except (ValueError, ValidationError) as exc:
        problems = exc.errors() if isinstance(exc, ValidationError) else None
        message = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems) if problems else "not JSON"
        raise HTTPException(400, detail={"reason": "bad_request", "message": f"the verdict is not valid: {message}"}) from None
    try:
        recorded, kept_image = await run_in_threadpool(_record_from_api, context, visitor, verdict)
    except NotAllowedError as exc:
        raise HTTPException(403, detail={"reason": "forbidden", "message": str(exc)}) from None
    except (InvalidVerdictError, ValueError) as exc:
        raise _invalid(exc) from None
    return JSONResponse({"verdict": verdict_json(recorded), "image_kept": kept_image}, status_code=201)


@router.get("/api/v1/verdicts", tags=["review"], responses=error_responses(400, 401, 500))
async def get_verdicts(request: Request) -> dict:
    """Verdicts, newest first. Query: ``sha256`` (an image's history), ``limit`` (1-10000, default 100),
    ``free_text=true`` (also comments and OTHER text). Needs an API token or a sign-in, on loopback too:
    verdicts may say what a patient has."""
    from dermflow.review import list_verdicts

    if visitor_of(request) is None:
        raise HTTPException(401, detail={"reason": "unauthorized", "message": "send Authorization: Bearer <API token>"},
                            headers={"WWW-Authenticate": "Bearer"})
    params = request.query_params
    sha256, raw_limit, free_text = params.get("sha256") or None, params.get("limit", "100"), params.get("free_text") == "true"
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 10_000:
        raise HTTPException(400, detail={"reason": "bad_query", "message": "limit must be 1 to 10000"})
    limit = int(raw_limit)
    found = await run_in_threadpool(list_verdicts, context_of(request).review, sha256, limit)
    return {"verdicts": [verdict_json(v, free_text) for v in found]}


GROUP_WORDS = {"all": "all reviewed cases", "queue": "from the review queue", "random_audit": "random audit (unbiased)",
               "other": "uploads and other pages"}


def _performance(context: ServingContext):
    from dermflow.review import reviewed_performance

    figures = reviewed_performance(context.review)
    names = {}
    for figure in figures:
        facts = context.versions.facts(figure.model_version, list(figure.labels), False)
        names.update({label: facts.shown(label) for label in figure.labels})
    return figures, names


@router.get("/review/performance", response_class=HTMLResponse, include_in_schema=False)
async def performance_page(request: Request):
    """Per model version: n, the confusion matrix, balanced accuracy with its interval; random audit apart."""
    context = context_of(request)
    figures, names = await run_in_threadpool(_performance, context)
    return context.templates.TemplateResponse(request, "performance.html", {
        **page_values(request), "figures": figures, "names": names, "group_words": GROUP_WORDS,
    })
