"""What every request passes first: the bearer token where one is needed, and the security headers.

    app.add_middleware(SecurityMiddleware, context=context)

A pure ASGI middleware (no per-request task or body copy): it answers refused requests itself and
adds ``X-Model-Version``, ``X-Content-Type-Options``, ``Referrer-Policy`` and, on the pages, the
``Content-Security-Policy`` to every response.
"""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dermflow.serving.access_token import COOKIE, bearer_of, token_matches
from dermflow.serving.serving_context import ServingContext

OPEN_PATHS = frozenset({"/healthz"})
PAGE_CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
_API_DOC_PREFIXES = ("/docs", "/redoc", "/openapi")


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, context: ServingContext):
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":  # after the route: the version that answered
                response_headers = MutableHeaders(scope=message)
                for name, value in self._headers(path).items():
                    response_headers.setdefault(name, value)
            await send(message)

        refusal = self._refusal(request, path)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _headers(self, path: str) -> dict[str, str]:
        headers = {
            "X-Model-Version": self.context.holder.served.version,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        if not path.startswith(_API_DOC_PREFIXES):
            headers["Content-Security-Policy"] = PAGE_CSP
        return headers

    def _refusal(self, request: Request, path: str):
        """The response that ends this request here, or None to let it through."""
        token = self.context.token
        query_token = request.query_params.get("token")
        if query_token and token_matches(query_token, token) and request.method == "GET":
            # A person opening the page with ?token=...: keep it in a cookie and drop it from the address.
            remaining = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(path + (f"?{remaining}" if remaining else ""), status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
            return response
        given = bearer_of(request.headers.get("authorization")) or request.cookies.get(COOKIE)
        needs_token = (self.context.require_token and path not in OPEN_PATHS) or path == "/api/v1/reload"
        if needs_token and not token_matches(given, token):
            return JSONResponse(
                {"reason": "unauthorized", "message": "send Authorization: Bearer <token> (the token file is named in docs/serving.md)"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )
        return None
