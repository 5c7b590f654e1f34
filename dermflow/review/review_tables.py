"""The review store's tables (SQLAlchemy 2 ORM). The schema itself is made by the Alembic migrations
in ``migrations/versions/``; a test checks that they and these classes agree.

    users            one account: unique name, role, scrypt hash, disabled
    api_tokens       per-user tokens for the JSON API, stored as sha256 only
    sessions         sign-ins (sha256 of the cookie's id, CSRF token, expiry): they survive a restart
    login_failures   failed sign-ins by name, so a rate limit survives a restart
    verdicts         append-only: a correction is a new row whose ``supersedes`` is the old one
    kept_images      the prepared JPEG of an upload a reviewer chose to keep with a verdict

Every time is UTC (``UtcDateTime``). ``verdicts.comment`` may hold patient data: nothing outside the
database (export, log, console) carries it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, LargeBinary, MetaData, String, Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from dermflow.review.review_enums import QueueReason, Role, VerdictBasis, VerdictDiagnosis

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """An aware UTC datetime in, an aware UTC datetime out (SQLite stores it naive, PostgreSQL as timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("review store times must be timezone-aware (UTC)")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _one_of(column: str, enum: type) -> str:
    return f"{column} IN ({', '.join(repr(member.value) for member in enum)})"


class ReviewBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(ReviewBase):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ApiTokenRow(ReviewBase):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SessionRow(ReviewBase):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class LoginFailureRow(ReviewBase):
    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(100), default="")
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)


class VerdictRow(ReviewBase):
    __tablename__ = "verdicts"
    __table_args__ = (
        CheckConstraint(_one_of("diagnosis", VerdictDiagnosis), name="diagnosis"),
        CheckConstraint(_one_of("basis", VerdictBasis), name="basis"),
        CheckConstraint(_one_of("queue_reason", QueueReason), name="queue_reason"),
        CheckConstraint("(diagnosis = 'OTHER') = (other_text IS NOT NULL)", name="other_text"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    image_path: Mapped[str | None] = mapped_column(String(1024))
    diagnosis: Mapped[str] = mapped_column(String(8))
    other_text: Mapped[str | None] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(16))
    lesion_id: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    model_name: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(64), index=True)
    predicted_label: Mapped[str | None] = mapped_column(String(64))
    probabilities: Mapped[dict | None] = mapped_column(JSON)
    out_of_scope: Mapped[bool | None] = mapped_column(Boolean)
    run_id: Mapped[str | None] = mapped_column(String(200))
    queue_reason: Mapped[str] = mapped_column(String(32))
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("verdicts.id"), unique=True)


class KeptImageRow(ReviewBase):
    __tablename__ = "kept_images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    verdict_id: Mapped[int | None] = mapped_column(ForeignKey("verdicts.id"))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
