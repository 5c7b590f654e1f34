"""Signing in and out, one's own API token, and the admin's accounts page.

    app.include_router(account_routes.router)

``POST /login`` takes an urlencoded form (name, password, the login form's CSRF token, which a
cookie also holds: a page elsewhere cannot post it). Failures are counted in the review store per
name; after ``review.login_max_failures`` in ``review.login_window_seconds`` even the right password
is refused (429) until the window has passed. A sign-in is a server-side session: its id in a cookie
that is HttpOnly, SameSite=Strict, Secure behind TLS, and that expires with it
(``review.session_hours``). Neither the password nor the session id is ever logged or echoed.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dermflow.serving.serving_context import ServingContext, context_of, page_values
from dermflow.serving.upload_limits import read_form
from dermflow.serving.visitor import SESSION_COOKIE, Visitor, visitor_of

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "dermflow_login_csrf"
ROLES = ("viewer", "reviewer", "admin")


def secure_cookies(request: Request, context: ServingContext) -> bool:
    """Secure cookies behind TLS: served over HTTPS, or a proxy's X-Forwarded-Proto that uvicorn trusted."""
    return request.url.scheme == "https" or context.serve.tls_certfile is not None


def local_target(target: str | None) -> str:
    """Where to go after signing in: a path on this server only (never ``//host`` or ``https://host``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _login_page(request: Request, message: str = "", status: int = 200, name: str = "") -> Response:
    context = context_of(request)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = context.templates.TemplateResponse(request, "login.html", {
        **page_values(request), "message": message, "login_csrf": token, "name": name,
        "next": local_target(request.query_params.get("next")),
    }, status_code=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(request, context),
                        path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request):
    return _login_page(request)


def _sign_in(context: ServingContext, name: str, password: str, client: str):
    """(SignIn or None, refusal reason or None); counts failures, checks the limit first."""
    from dermflow.review import (clear_failed_logins, create_session, login_blocked, record_failed_login,
                                 verify_credentials)

    review = context.cfg.review
    if login_blocked(context.review, name, review.login_max_failures, review.login_window_seconds):
        return None, "blocked"
    account = verify_credentials(context.review, name, password)
    if account is None:
        record_failed_login(context.review, name, client)
        return None, "wrong"
    clear_failed_logins(context.review, name)
    return create_session(context.review, account.name, context.cfg.review.session_hours), None


@router.post("/login")
async def login(request: Request):
    context = context_of(request)
    form = await read_form(request, max_fields=8)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(form.get("csrf_token", ""), expected):
        raise HTTPException(403, detail={"reason": "csrf_token_missing",
                                         "message": "the sign-in form lacks its CSRF token: reload the page and try again"})
    name = form.get("name", "").strip()[:64]
    client = request.client.host if request.client else ""
    signed_in, refused = await run_in_threadpool(_sign_in, context, name, form.get("password", ""), client)
    if refused == "blocked":
        minutes = max(1, context.cfg.review.login_window_seconds // 60)
        return _login_page(request, f"Too many failed sign-ins for this name: wait about {minutes} minutes.", 429, name)
    if refused:
        return _login_page(request, "Wrong name or password, or the account is disabled.", 401, name)
    response = RedirectResponse(local_target(form.get("next")), status_code=303)
    response.set_cookie(SESSION_COOKIE, signed_in.session_id, max_age=int(context.cfg.review.session_hours * 3600),
                        httponly=True, samesite="strict", secure=secure_cookies(request, context), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request):
    from dermflow.review import delete_session

    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await run_in_threadpool(delete_session, context_of(request).review, session_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _signed_in(request: Request) -> Visitor:
    visitor = visitor_of(request)
    if visitor is None:
        raise HTTPException(401, detail={"reason": "unauthorized", "message": "sign in first (/login)"})
    return visitor


@router.get("/account/token", response_class=HTMLResponse)
async def token_page(request: Request):
    _signed_in(request)
    return context_of(request).templates.TemplateResponse(request, "account_token.html", {**page_values(request), "token": None})


@router.post("/account/token", response_class=HTMLResponse)
async def issue_token(request: Request):
    """A new API token for the signed-in account, shown this once."""
    from dermflow.review import issue_api_token

    visitor = _signed_in(request)
    await read_form(request, max_fields=4)
    token = await run_in_threadpool(issue_api_token, context_of(request).review, visitor.name, "web page")
    return context_of(request).templates.TemplateResponse(
        request, "account_token.html", {**page_values(request), "token": token}, headers={"Cache-Control": "no-store"})


def _admin(request: Request) -> Visitor:
    visitor = _signed_in(request)
    if not visitor.may_manage:
        raise HTTPException(403, detail={"reason": "forbidden", "message": f"{visitor.name} is a {visitor.role}: "
                                         "only admins manage accounts"})
    return visitor


async def _admin_page(request: Request, message: str = "", status: int = 200):
    from dermflow.review import list_users

    context = context_of(request)
    users = await run_in_threadpool(list_users, context.review)
    return context.templates.TemplateResponse(request, "admin.html", {
        **page_values(request), "users": users, "roles": ROLES, "message": message,
    }, status_code=status)


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request):
    _admin(request)
    return await _admin_page(request)


def _account_action(context: ServingContext, form: dict[str, str]) -> str:
    """Does what the admin's form asks; returns what to say (ReviewStoreError for a refused change)."""
    from dermflow.review import add_user, change_role, set_disabled

    action, name = form.get("action", ""), form.get("name", "").strip()
    if action == "add":
        add_user(context.review, name, form.get("role", ""), form.get("password", ""))
        return f"Account {name} added as {form.get('role')}."
    if action == "role":
        return f"{name} is now a {change_role(context.review, name, form.get('role', '')).role}."
    if action in ("disable", "enable"):
        set_disabled(context.review, name, action == "disable")
        return f"{name} is {action}d."
    if action == "reload":
        served = context.holder.reload()
        return f"Serving version {served.version} (the registry's LATEST)."
    raise ValueError(f"unknown action {action!r}")


@router.post("/admin", response_class=HTMLResponse)
async def admin_action(request: Request):
    from dermflow.review import ReviewStoreError

    _admin(request)
    form = await read_form(request, max_fields=8)
    try:
        said = await run_in_threadpool(_account_action, context_of(request), form)
    except (ReviewStoreError, ValueError) as exc:
        return await _admin_page(request, f"Not done: {exc}", 400)
    return await _admin_page(request, said)
