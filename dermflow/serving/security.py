"""What every request passes first: the Host allow-list, who is asking, the access rules, CSRF, headers.

    app.add_middleware(SecurityMiddleware, context=context)

A pure ASGI middleware (no per-request task or body copy but for form posts). In order:
- a ``Host`` header that is not an allowed name (``binding.allowed_hosts``) gets 400: a web page
  elsewhere cannot read the results through DNS rebinding;
- who is asking (:mod:`dermflow.serving.visitor`): ``Authorization: Bearer <API token>``, else the
  session cookie of a sign-in; either looked up in the review store;
- the access rules: ``/healthz`` is open; with ``--allow-remote`` (or ``serve.require_sign_in``)
  every other route but the login page and its stylesheet needs a signed-in user or an API token
  (a page gets a redirect to ``/login``, anything else 401); ``/api/v1/reload`` needs an admin;
  recording a verdict needs a reviewer (its routes check);
- CSRF: a state-changing request of a signed-in browser must carry the session's CSRF token, as the
  form field ``csrf_token`` or the ``X-CSRF-Token`` header, else 403 (an API token needs none: no
  browser sends it by itself);
- a route that fails gets the ``internal_error`` JSON 500, not a plain-text page;
- every response carries ``X-Model-Version``, ``X-Content-Type-Options``, ``Referrer-Policy``,
  ``X-Frame-Options`` and, except FastAPI's ``/docs``, a ``Content-Security-Policy``.
"""
from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qsl, quote

from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dermflow.serving.binding import allowed_hosts, host_of
from dermflow.serving.http_errors import error_response, internal_error
from dermflow.serving.serving_context import ServingContext
from dermflow.serving.visitor import SCOPE_KEY, SESSION_COOKIE, Visitor

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz"})
SIGN_IN_PATHS = frozenset({"/login", "/static/style.css"})  # reachable before signing in
ADMIN_PATHS = frozenset({"/api/v1/reload"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD, CSRF_HEADER = "csrf_token", "x-csrf-token"
MAX_FORM_BYTES = 64 * 1024
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'")
_API_DOC_PREFIXES = ("/docs", "/redoc", "/openapi")


def bearer_of(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def visitor_from(context: ServingContext, headers: Headers) -> Visitor | None:
    """The account behind the request's API token or session cookie (blocking: a store lookup)."""
    from dermflow.review import lookup_session, user_for_api_token

    token = bearer_of(headers.get("authorization"))
    if token:
        account = user_for_api_token(context.review, token)
        return Visitor(account.name, str(account.role), "api_token") if account else None
    session_id = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
    if session_id:
        signed_in = lookup_session(context.review, session_id)
        if signed_in is not None:
            return Visitor(signed_in.user.name, str(signed_in.user.role), "session", signed_in.csrf_token)
    return None


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

        try:
            refusal, receive = await self._check(scope, receive, path)
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
                return
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

    async def _check(self, scope: Scope, receive: Receive, path: str):
        """(the response that ends the request here or None, the receive channel the app reads the body from)."""
        headers = Headers(scope=scope)
        if host_of(headers.get("host")) not in self.hosts:
            return error_response("unknown_host", "this server does not answer to that host name (serve.allowed_hosts, "
                                  "--allowed-host)", 400), receive
        if path in OPEN_PATHS:
            return None, receive
        visitor = None
        if headers.get("authorization") or SESSION_COOKIE in headers.get("cookie", ""):
            visitor = await run_in_threadpool(visitor_from, self.context, headers)
        scope[SCOPE_KEY] = visitor
        refusal = self._access(scope, headers, path, visitor)
        if refusal is not None or visitor is None or visitor.via != "session" or scope["method"] in SAFE_METHODS:
            return refusal, receive
        return await self._csrf(scope, receive, headers, visitor)

    def _access(self, scope: Scope, headers: Headers, path: str, visitor: Visitor | None):
        if visitor is None and self.context.require_sign_in and path not in SIGN_IN_PATHS:
            if scope["method"] == "GET" and "text/html" in headers.get("accept", ""):
                target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return error_response("unauthorized", "sign in, or send Authorization: Bearer <API token> "
                                  "(dermflow users token NAME)", 401, {"WWW-Authenticate": "Bearer"})
        if path in ADMIN_PATHS:
            if visitor is None:
                return error_response("unauthorized", "an admin's API token or sign-in is needed", 401,
                                      {"WWW-Authenticate": "Bearer"})
            if not visitor.may_manage:
                return error_response("forbidden", f"{visitor.name} is a {visitor.role}: only admins may do this", 403)
        return None

    async def _csrf(self, scope: Scope, receive: Receive, headers: Headers, visitor: Visitor):
        """403 unless the session's CSRF token comes as the header or the form field (the body is then replayed)."""
        given = headers.get(CSRF_HEADER)
        if given is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            body, receive = await _buffered(receive, MAX_FORM_BYTES)
            if body is None:
                return error_response("too_large", f"forms are limited to {MAX_FORM_BYTES} bytes", 413), receive
            try:
                fields = parse_qsl(body.decode("latin-1"), max_num_fields=64)
            except ValueError:
                return error_response("bad_form", "a form has at most 64 fields", 400), receive
            given = next((value for name, value in fields if name == CSRF_FIELD), None)
        if not given or not hmac.compare_digest(given.encode(), visitor.csrf_token.encode()):
            return error_response("csrf_token_missing", "this form or request lacks its CSRF token: reload the page "
                                  "and send it again", 403), receive
        return None, receive


async def _buffered(receive: Receive, limit: int):
    """The whole body (None when over ``limit``), and a receive that hands it to the app again."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
        if size > limit:
            return None, receive
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
