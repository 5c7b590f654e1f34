"""Every error the server gives is ``{"reason": ..., "message": ...}`` JSON (docs/serving.md).

    raise HTTPException(400, detail={"reason": "bad_query", "message": "page must be a number"})
    return error_response("overloaded", "the queue is full", 503, {"Retry-After": "1"})
    install_error_handlers(app)
"""
from __future__ import annotations

from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def error_response(reason: str, message: str, status: int, headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"reason": reason, "message": message, **extra}, status_code=status, headers=dict(headers or {}) or None)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        """Errors as {reason, message}, like a rejected upload."""
        if isinstance(exc.detail, dict):
            body = exc.detail
        else:
            body = {"reason": "not_found" if exc.status_code == 404 else "http_error", "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))
