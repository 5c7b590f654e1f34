"""Every error the server gives is ``{"reason": ..., "message": ...}`` JSON (docs/serving.md).

    raise HTTPException(400, detail={"reason": "bad_query", "message": "page must be a number"})
    return error_response("overloaded", "the queue is full", 503, {"Retry-After": "1"})
    install_error_handlers(app)     # HTTP errors, bad parameters; 500s: security.SecurityMiddleware
"""
from __future__ import annotations

from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

_REASON_OF_STATUS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                     405: "method_not_allowed", 413: "too_large", 429: "too_many_requests"}


class ErrorBody(BaseModel):
    """What every error answer holds."""

    reason: str = Field(description="A stable machine-readable code: a RejectReason value for a refused image "
                                    "(422), else e.g. too_large, bad_multipart, no_file, unauthorized, overloaded.")
    message: str = Field(description="One sentence for a person: what was wrong and what to do.")


def error_response(reason: str, message: str, status: int, headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"reason": reason, "message": message, **extra}, status_code=status, headers=dict(headers or {}) or None)


def internal_error() -> JSONResponse:
    return error_response("internal_error", "the server failed on this request; it keeps serving (see its log)", 500)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        """Errors as {reason, message}, like a rejected upload."""
        if isinstance(exc.detail, dict):
            body = exc.detail
        else:
            body = {"reason": _REASON_OF_STATUS.get(exc.status_code, "http_error"), "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(_request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg')}" for error in exc.errors())
        return error_response("bad_query", f"bad request parameters: {problems}", 400)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all with :class:`ErrorBody`."""
    described = {
        400: "Not a multipart form, no `file` part, too many parts, or a bad parameter.",
        401: "A signed-in user or an API token is needed.",
        403: "Signed in, but the role may not do this, or the form's CSRF token is missing.",
        404: "No such thing.",
        413: "The upload is over serve.max_upload_bytes.",
        422: "The file is not a readable image: the reason is the scoring job's RejectReason.",
        429: "Too many attempts; wait and try again (Retry-After).",
        500: "The server failed on this request; it keeps serving.",
        503: "The model queue is full (overloaded) or did not answer in time (timeout); Retry-After says when to retry.",
    }
    return {status: {"model": ErrorBody, "description": described[status]} for status in statuses}
