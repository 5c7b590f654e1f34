"""Sign-ins that survive a restart, and the failed attempts a login rate limit counts.

    signed_in = create_session(db, "alice", hours=cfg.review.session_hours)
    # cookie: signed_in.session_id (HttpOnly, SameSite=Strict); forms carry signed_in.csrf_token
    lookup_session(db, cookie_value)       # -> SignIn, or None (unknown, expired, account disabled)
    delete_session(db, cookie_value)       # sign out

    if login_blocked(db, name, cfg.review.login_max_failures, cfg.review.login_window_seconds): 429
    elif verify_credentials(...) is None: record_failed_login(db, name, client)
    else: clear_failed_logins(db, name)

The session id is 256 random bits, returned once and stored as its sha256; the CSRF token is
stored as it is (pages must show it). Failed sign-ins are rows of ``login_failures`` (name,
client, time), so a limit holds across restarts and across the server's processes; how they are
counted (per name, per client) is the web page's choice.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from dermflow.review.review_database import ReviewDatabase
from dermflow.review.review_tables import LoginFailureRow, SessionRow, UserRow, utc_now
from dermflow.review.user_accounts import UserAccount, account_of, require_user, token_digest


@dataclass(frozen=True)
class SignIn:
    """A live sign-in: the cookie's value, the token every state-changing form must carry, whose, until when."""

    session_id: str
    csrf_token: str
    user: UserAccount
    expires_at: datetime


def create_session(db: ReviewDatabase, name: str, hours: float) -> SignIn:
    """A new sign-in of the enabled account ``name`` that expires after ``hours`` (review.session_hours)."""
    session_id, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = utc_now() + timedelta(hours=hours)
    with db.writing() as session:
        user = require_user(session, name)
        session.add(SessionRow(session_sha256=token_digest(session_id), user_id=user.id, csrf_token=csrf_token,
                               expires_at=expires_at))
        return SignIn(session_id=session_id, csrf_token=csrf_token, user=account_of(user), expires_at=expires_at)


def lookup_session(db: ReviewDatabase, session_id: str, now: datetime | None = None) -> SignIn | None:
    """The sign-in of this cookie value while it has not expired and its account is enabled, else None."""
    if not session_id:
        return None
    now = now or utc_now()
    with db.reading() as session:
        found = session.execute(
            select(SessionRow, UserRow).join(UserRow, UserRow.id == SessionRow.user_id)
            .where(SessionRow.session_sha256 == token_digest(session_id))
        ).one_or_none()
        if found is None or found[1].disabled or found[0].expires_at <= now:
            return None
        row, user = found
        return SignIn(session_id=session_id, csrf_token=row.csrf_token, user=account_of(user), expires_at=row.expires_at)


def delete_session(db: ReviewDatabase, session_id: str) -> bool:
    """Signs out; False when there was no such sign-in."""
    with db.writing() as session:
        result = session.execute(delete(SessionRow).where(SessionRow.session_sha256 == token_digest(session_id)))
        return result.rowcount == 1


def expire_sessions(db: ReviewDatabase, now: datetime | None = None) -> int:
    """Deletes expired sign-ins (and failed-login rows older than a day); returns how many sign-ins went."""
    now = now or utc_now()
    with db.writing() as session:
        session.execute(delete(LoginFailureRow).where(LoginFailureRow.failed_at < now - timedelta(days=1)))
        return session.execute(delete(SessionRow).where(SessionRow.expires_at <= now)).rowcount


def record_failed_login(db: ReviewDatabase, name: str, client: str = "") -> None:
    """Counts a failed sign-in for ``name`` (whether or not such an account exists) from ``client``."""
    with db.writing() as session:
        session.add(LoginFailureRow(user_name=name[:64], client=client[:100]))


def failed_logins(db: ReviewDatabase, name: str, window_seconds: float, client: str | None = None,
                  now: datetime | None = None) -> int:
    """Failed sign-ins for ``name`` (from ``client`` only, when given) in the last ``window_seconds``."""
    since = (now or utc_now()) - timedelta(seconds=window_seconds)
    query = select(func.count()).select_from(LoginFailureRow).where(
        LoginFailureRow.user_name == name[:64], LoginFailureRow.failed_at > since)
    if client is not None:
        query = query.where(LoginFailureRow.client == client[:100])
    with db.reading() as session:
        return session.scalar(query) or 0


def login_blocked(db: ReviewDatabase, name: str, max_failures: int, window_seconds: float,
                  now: datetime | None = None) -> bool:
    """True when ``name`` has failed ``max_failures`` times within ``window_seconds`` (review.login_*)."""
    return failed_logins(db, name, window_seconds, now=now) >= max_failures


def clear_failed_logins(db: ReviewDatabase, name: str) -> None:
    """Forgets the failures of ``name`` (after a successful sign-in)."""
    with db.writing() as session:
        session.execute(delete(LoginFailureRow).where(LoginFailureRow.user_name == name[:64]))
