"""What every request passes first: the Host allow-list, authentication, and the security headers.

    app.add_middleware(SecurityMiddleware, context=context)

A pure ASGI middleware (no per-request task or body copy). In order:
- a ``Host`` header that is not an allowed name (``binding.allowed_hosts``) is refused with 400:
  a web page elsewhere cannot read the results through DNS rebinding;
- a request that needs the bearer token and lacks it gets 401;
- a route that fails gets the ``internal_error`` JSON 500, not a plain-text page;
- every response carries ``X-Model-Version``, ``X-Content-Type-Options``, ``Referrer-Policy``,
  ``X-Frame-Options`` and, except FastAPI's ``/docs``, the ``Content-Security-Policy``.
"""
from __future__ import annotations

import logging

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dermflow.serving.access_token import bearer_of, token_matches
from dermflow.serving.binding import allowed_hosts, host_of
from dermflow.serving.http_errors import error_response, internal_error
from dermflow.serving.serving_context import ServingContext

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz"})
PAGE_CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
_API_DOC_PREFIXES = ("/docs", "/redoc", "/openapi")


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, context: ServingContext):
        self.app = app
        self.context = context
        self.hosts = allowed_hosts(context.serve)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":  # after the route: the version that answered
                started = True
                response_headers = MutableHeaders(scope=message)
                for name, value in self._headers(path).items():
                    response_headers.setdefault(name, value)
            await send(message)

        refusal = self._refusal(Headers(scope=scope), path)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), path)
            if started:
                raise
            await internal_error()(scope, receive, send_with_headers)

    def _headers(self, path: str) -> dict[str, str]:
        headers = {
            "X-Model-Version": self.context.holder.served.version,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        }
        if not path.startswith(_API_DOC_PREFIXES):
            headers["Content-Security-Policy"] = PAGE_CSP
        return headers

    def _refusal(self, headers: Headers, path: str):
        """The response that ends this request here, or None to let it through."""
        if host_of(headers.get("host")) not in self.hosts:
            return error_response("unknown_host", "this server does not answer to that host name (serve.allowed_hosts, "
                                  "--allowed-host)", 400)
        given = bearer_of(headers.get("authorization"))
        needs_token = (self.context.require_token and path not in OPEN_PATHS) or path == "/api/v1/reload"
        if needs_token and not token_matches(given, self.context.token):
            return error_response("unauthorized", "send Authorization: Bearer <token> (the token file is named in "
                                  "docs/serving.md)", 401, {"WWW-Authenticate": "Bearer"})
        return None
