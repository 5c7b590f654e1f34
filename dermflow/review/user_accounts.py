"""Accounts and their API tokens: who may read, record verdicts, or manage.

    add_user(db, "alice", Role.REVIEWER, password)        # -> UserAccount; the password is stored as scrypt only
    verify_credentials(db, "alice", password)             # -> UserAccount, or None (wrong, unknown or disabled)
    token = issue_api_token(db, "alice")                  # shown once; stored as its sha256
    user_for_api_token(db, token)                         # -> UserAccount, or None (revoked, disabled)

These functions do not check who asks: the CLI runs with the database's own access, and the web
page lets only admins reach them. Changing a password or disabling an account ends its sign-ins;
a disabled account's tokens stop working until it is enabled again.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dermflow.review.password_hashing import (
    DUMMY_HASH, PasswordRuleError, hash_password, needs_rehash, verify_password,
)
from dermflow.review.review_database import ReviewDatabase
from dermflow.review.review_enums import Role
from dermflow.review.review_errors import AccountError, NotAllowedError, UnknownUserError
from dermflow.review.review_tables import ApiTokenRow, SessionRow, UserRow, utc_now

USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
TOKEN_PREFIX = "dft_"  # lets a log scrubber or a secret scanner recognise a dermflow API token
TOKEN_LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is rewritten at most this often


@dataclass(frozen=True)
class UserAccount:
    """An account as the callers see it: never the password hash."""

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime

    @property
    def may_record_verdicts(self) -> bool:
        return not self.disabled and self.role.may_record_verdicts

    @property
    def may_manage(self) -> bool:
        return not self.disabled and self.role.may_manage


def account_of(row: UserRow) -> UserAccount:
    return UserAccount(id=row.id, name=row.name, role=Role(row.role), disabled=row.disabled,
                       created_at=row.created_at, updated_at=row.updated_at)


def parse_role(role: str | Role) -> Role:
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise AccountError(f"unknown role {str(role)[:32]!r}: use one of {', '.join(r.value for r in Role)}") from None


def user_row(session: Session, name: str) -> UserRow:
    """The row of account ``name``; UnknownUserError when there is none."""
    row = session.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
    if row is None:
        raise UnknownUserError(f"no account named {name[:64]!r}")
    return row


def _new_hash(password: str) -> str:
    try:
        return hash_password(password)
    except PasswordRuleError as exc:
        raise AccountError(str(exc)) from None


def add_user(db: ReviewDatabase, name: str, role: str | Role, password: str) -> UserAccount:
    """A new enabled account; AccountError when the name is taken or malformed, or the password too short."""
    if not USER_NAME_PATTERN.fullmatch(name or ""):
        raise AccountError(
            f"user name {name[:64]!r} is not allowed: 1-64 letters, digits or . _ @ -, starting with a letter or digit"
        )
    role = parse_role(role)
    password_hash = _new_hash(password)
    with db.writing() as session:
        if session.scalars(select(UserRow.id).where(UserRow.name == name)).first() is not None:
            raise AccountError(f"an account named {name!r} exists already")
        row = UserRow(name=name, role=role.value, password_hash=password_hash, disabled=False)
        session.add(row)
        session.flush()
        return account_of(row)


def get_user(db: ReviewDatabase, name: str) -> UserAccount | None:
    with db.reading() as session:
        row = session.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
        return None if row is None else account_of(row)


def list_users(db: ReviewDatabase) -> list[UserAccount]:
    """Every account, by name."""
    with db.reading() as session:
        return [account_of(row) for row in session.scalars(select(UserRow).order_by(UserRow.name))]


def change_password(db: ReviewDatabase, name: str, password: str) -> None:
    """Sets a new password and ends every sign-in of the account."""
    password_hash = _new_hash(password)
    with db.writing() as session:
        row = user_row(session, name)
        row.password_hash, row.updated_at = password_hash, utc_now()
        session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))


def change_role(db: ReviewDatabase, name: str, role: str | Role) -> UserAccount:
    role = parse_role(role)
    with db.writing() as session:
        row = user_row(session, name)
        row.role, row.updated_at = role.value, utc_now()
        return account_of(row)


def set_disabled(db: ReviewDatabase, name: str, disabled: bool) -> UserAccount:
    """Disables (and signs out) or enables an account; its verdicts stay, attributed to it."""
    with db.writing() as session:
        row = user_row(session, name)
        row.disabled, row.updated_at = disabled, utc_now()
        if disabled:
            session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
        return account_of(row)


def verify_credentials(db: ReviewDatabase, name: str, password: str) -> UserAccount | None:
    """The account when ``password`` is its password and it is enabled; else None, after the same work.

    A hash made with older scrypt parameters is replaced by one with today's.
    """
    with db.reading() as session:
        row = session.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
        stored = row.password_hash if row is not None else DUMMY_HASH
        matches = verify_password(password, stored)
        if row is None or not matches or row.disabled:
            return None
        account = account_of(row)
    if needs_rehash(stored):
        with db.writing() as session:
            session.execute(update(UserRow).where(UserRow.id == account.id, UserRow.password_hash == stored)
                            .values(password_hash=hash_password(password)))
    return account


def token_digest(secret: str) -> str:
    """What the store keeps of a token or session id: its sha256 (they are 256-bit random, so no salt is needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_api_token(db: ReviewDatabase, name: str, label: str = "") -> str:
    """A new API token for account ``name``, returned in clear this once (``Authorization: Bearer <token>``)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.writing() as session:
        row = user_row(session, name)
        session.add(ApiTokenRow(token_sha256=token_digest(token), user_id=row.id, label=label[:100]))
    return token


def revoke_api_token(db: ReviewDatabase, token: str) -> bool:
    """Revokes one token; False when it was unknown or revoked already."""
    with db.writing() as session:
        result = session.execute(update(ApiTokenRow).where(
            ApiTokenRow.token_sha256 == token_digest(token), ApiTokenRow.revoked_at.is_(None)).values(revoked_at=utc_now()))
        return result.rowcount == 1


def revoke_api_tokens(db: ReviewDatabase, name: str) -> int:
    """Revokes every token of account ``name``; returns how many were live."""
    with db.writing() as session:
        row = user_row(session, name)
        result = session.execute(update(ApiTokenRow).where(
            ApiTokenRow.user_id == row.id, ApiTokenRow.revoked_at.is_(None)).values(revoked_at=utc_now()))
        return result.rowcount


def user_for_api_token(db: ReviewDatabase, token: str) -> UserAccount | None:
    """The enabled account holding this live token, else None. Notes when the token was last used."""
    if not token:
        return None
    digest = token_digest(token)
    with db.reading() as session:
        found = session.execute(
            select(ApiTokenRow, UserRow).join(UserRow, UserRow.id == ApiTokenRow.user_id)
            .where(ApiTokenRow.token_sha256 == digest, ApiTokenRow.revoked_at.is_(None))
        ).one_or_none()
        if found is None or found[1].disabled:
            return None
        token_row, user = found
        account, last_used = account_of(user), token_row.last_used_at
    now = utc_now()
    if last_used is None or now - last_used >= TOKEN_LAST_USED_RESOLUTION:
        with db.writing() as session:
            session.execute(update(ApiTokenRow).where(ApiTokenRow.token_sha256 == digest).values(last_used_at=now))
    return account


def require_user(session: Session, name: str) -> UserRow:
    """The enabled account ``name`` inside a transaction (for the stores that act on its behalf)."""
    row = user_row(session, name)
    if row.disabled:
        raise NotAllowedError(f"the account {name!r} is disabled")
    return row
