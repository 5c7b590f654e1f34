"""Clinicians' verdicts: append-only, a correction is a new verdict that supersedes the old one.

    shown = ShownPrediction("dermflow_mobilenet_v2", "20260101T000000Z", "MEL", {"MEL": 0.8, "NV": 0.15, "BCC": 0.05})
    first = record_verdict(db, reviewer="alice", sha256=digest, diagnosis="NV", basis="histopathology",
                           shown=shown, queue_reason=QueueReason.MELANOMA_BAND, comment="...")
    fixed = correct_verdict(db, first.id, reviewer="bob", diagnosis="MEL", basis="consensus")
    verdict_history(db, digest)          # [fixed (current), first], newest first
    current_verdicts(db, bases=cfg.review.training_bases)     # sha256 -> the current verdict (issue 27)

The store itself checks every field and that the reviewer is an enabled reviewer or admin
(``NotAllowedError``), whoever calls it. An image's **current** verdict is its newest one; a verdict
can be corrected once (a second correction corrects the correction), so the history is a chain.
``comment`` may hold patient data: it is returned to the pages that show it, and never exported or logged.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dermflow.review.review_database import ReviewDatabase
from dermflow.review.review_enums import QueueReason, Role, VerdictBasis, VerdictDiagnosis
from dermflow.review.review_errors import InvalidVerdictError, NotAllowedError
from dermflow.review.review_tables import KeptImageRow, UserRow, VerdictRow
from dermflow.review.user_accounts import require_user

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
LESION_ID_PATTERN = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
MAX_OTHER_TEXT, MAX_COMMENT, MAX_IMAGE_PATH = 200, 4000, 1024
MAX_KEPT_JPEG_BYTES = 20_000_000


@dataclass(frozen=True)
class ShownPrediction:
    """What the reviewer was shown: the model, its label, its probabilities (label order kept), its flag, the run."""

    model_name: str
    model_version: str
    predicted_label: str
    probabilities: dict[str, float]
    out_of_scope: bool | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class VerdictRecord:
    """One verdict as recorded; ``current`` is True for the image's newest verdict."""

    id: int
    sha256: str
    diagnosis: VerdictDiagnosis
    other_text: str | None
    basis: VerdictBasis
    lesion_id: str | None
    comment: str | None
    reviewer: str
    recorded_at: datetime
    shown: ShownPrediction | None
    queue_reason: QueueReason
    image_path: str | None
    supersedes: int | None
    current: bool


def _choice(enum: type, value, field: str, normalise=str.lower):
    try:
        return enum(normalise(str(value).strip()))
    except ValueError:
        raise InvalidVerdictError(f"{field} {str(value)[:40]!r} is not one of {', '.join(m.value for m in enum)}") from None


def _text(value: str | None, field: str, limit: int) -> str | None:
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    if len(value) > limit:
        raise InvalidVerdictError(f"{field} is longer than {limit} characters")
    return value


def _check_sha256(sha256: str) -> str:
    sha256 = str(sha256).strip().lower()
    if not SHA256_PATTERN.fullmatch(sha256):
        raise InvalidVerdictError("sha256 must be the image's 64 hex digits")
    return sha256


def _check_shown(shown: ShownPrediction | None) -> ShownPrediction | None:
    if shown is None:
        return None
    for field, limit in (("model_name", 200), ("model_version", 64), ("predicted_label", 64)):
        value = getattr(shown, field)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise InvalidVerdictError(f"shown {field} must be 1-{limit} characters")
    probabilities = dict(shown.probabilities or {})
    if len(probabilities) > 64 or any(not isinstance(k, str) or not k or len(k) > 64 for k in probabilities):
        raise InvalidVerdictError("shown probabilities must map at most 64 labels of 1-64 characters to numbers")
    for label, value in probabilities.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
            raise InvalidVerdictError(f"shown probability of {label!r} must be a number in [0, 1]")
    if probabilities and shown.predicted_label not in probabilities:
        raise InvalidVerdictError(f"shown predicted_label {shown.predicted_label!r} is not one of the shown probabilities' labels")
    if shown.out_of_scope is not None and not isinstance(shown.out_of_scope, bool):
        raise InvalidVerdictError("shown out_of_scope must be true, false or null")
    run_id = _text(shown.run_id, "shown run_id", 200)
    return ShownPrediction(shown.model_name.strip(), shown.model_version.strip(), shown.predicted_label,
                           {k: float(v) for k, v in probabilities.items()}, shown.out_of_scope, run_id)


def _verdict_fields(diagnosis, basis, other_text, lesion_id, comment, queue_reason, image_path) -> dict:
    diagnosis = _choice(VerdictDiagnosis, diagnosis, "diagnosis", str.upper)
    other_text = _text(other_text, "other_text", MAX_OTHER_TEXT)
    if diagnosis is VerdictDiagnosis.OTHER and other_text is None:
        raise InvalidVerdictError("diagnosis OTHER needs other_text saying what it is")
    if diagnosis is not VerdictDiagnosis.OTHER and other_text is not None:
        raise InvalidVerdictError(f"other_text is only for diagnosis OTHER, not {diagnosis.value}")
    lesion_id = _text(lesion_id, "lesion_id", 64)
    if lesion_id is not None and not LESION_ID_PATTERN.fullmatch(lesion_id):
        raise InvalidVerdictError("lesion_id must be 1-64 characters without spaces (a pseudonymous id, never a name)")
    return {
        "diagnosis": diagnosis.value, "other_text": other_text,
        "basis": _choice(VerdictBasis, basis, "basis").value, "lesion_id": lesion_id,
        "comment": _text(comment, "comment", MAX_COMMENT),
        "queue_reason": _choice(QueueReason, queue_reason, "queue_reason").value,
        "image_path": _text(image_path, "image_path", MAX_IMAGE_PATH),
    }


def _shown_columns(shown: ShownPrediction | None) -> dict:
    if shown is None:
        return {}
    return {"model_name": shown.model_name, "model_version": shown.model_version,
            "predicted_label": shown.predicted_label, "probabilities": shown.probabilities,
            "out_of_scope": shown.out_of_scope, "run_id": shown.run_id}


def _check_jpeg(jpeg: bytes | None) -> bytes | None:
    if jpeg is None:
        return None
    if not isinstance(jpeg, (bytes, bytearray)) or not bytes(jpeg[:3]) == b"\xff\xd8\xff":
        raise InvalidVerdictError("the image to keep must be the prepared JPEG")
    if len(jpeg) > MAX_KEPT_JPEG_BYTES:
        raise InvalidVerdictError(f"the image to keep is larger than {MAX_KEPT_JPEG_BYTES} bytes")
    return bytes(jpeg)


def _check_supersedes(session: Session, supersedes: int | None, sha256: str) -> None:
    if supersedes is None:
        return
    old = session.get(VerdictRow, supersedes)
    if old is None:
        raise InvalidVerdictError(f"there is no verdict {supersedes} to correct")
    if old.sha256 != sha256:
        raise InvalidVerdictError(f"verdict {supersedes} is about another image")
    newer = session.scalars(select(VerdictRow.id).where(VerdictRow.supersedes == supersedes)).first()
    if newer is not None:
        raise InvalidVerdictError(f"verdict {supersedes} was corrected already by verdict {newer}: correct that one")


def record_verdict(db: ReviewDatabase, *, reviewer: str, sha256: str, diagnosis: str | VerdictDiagnosis,
                   basis: str | VerdictBasis, other_text: str | None = None, lesion_id: str | None = None,
                   comment: str | None = None, shown: ShownPrediction | None = None, image_path: str | None = None,
                   queue_reason: str | QueueReason = QueueReason.DIRECT, supersedes: int | None = None,
                   keep_jpeg: bytes | None = None) -> VerdictRecord:
    """Records one verdict (and, with ``keep_jpeg``, keeps the prepared image of an upload) in one transaction.

    InvalidVerdictError for a wrong field, NotAllowedError when ``reviewer`` may not record verdicts.
    The verdict is durable when this returns.
    """
    sha256 = _check_sha256(sha256)
    fields = _verdict_fields(diagnosis, basis, other_text, lesion_id, comment, queue_reason, image_path)
    shown, keep_jpeg = _check_shown(shown), _check_jpeg(keep_jpeg)
    try:
        with db.writing() as session:
            user = require_user(session, reviewer)
            if not Role(user.role).may_record_verdicts:
                raise NotAllowedError(f"{reviewer!r} is a {user.role}: only reviewers and admins record verdicts")
            _check_supersedes(session, supersedes, sha256)
            row = VerdictRow(sha256=sha256, reviewer_id=user.id, supersedes=supersedes, **fields, **_shown_columns(shown))
            session.add(row)
            session.flush()
            if keep_jpeg is not None:
                _keep(session, sha256, keep_jpeg, user.id, row.id)
            return _record(row, user.name, current=True)
    except IntegrityError:
        if supersedes is None:
            raise
        # another correction of the same verdict committed first (verdicts.supersedes is unique)
        raise InvalidVerdictError(f"verdict {supersedes} was corrected by someone else just now: reload and correct that") from None


def correct_verdict(db: ReviewDatabase, verdict_id: int, *, reviewer: str, diagnosis: str | VerdictDiagnosis,
                    basis: str | VerdictBasis, other_text: str | None = None, lesion_id: str | None = None,
                    comment: str | None = None) -> VerdictRecord:
    """A new verdict superseding ``verdict_id``, about the same image with the same shown prediction and reason."""
    old = get_verdict(db, verdict_id)
    if old is None:
        raise InvalidVerdictError(f"there is no verdict {verdict_id} to correct")
    return record_verdict(db, reviewer=reviewer, sha256=old.sha256, diagnosis=diagnosis, basis=basis,
                          other_text=other_text, lesion_id=lesion_id, comment=comment, shown=old.shown,
                          image_path=old.image_path, queue_reason=old.queue_reason, supersedes=verdict_id)


def _record(row: VerdictRow, reviewer: str, current: bool) -> VerdictRecord:
    shown = None
    if row.model_version is not None:
        shown = ShownPrediction(row.model_name or "", row.model_version, row.predicted_label or "",
                                dict(row.probabilities or {}), row.out_of_scope, row.run_id)
    return VerdictRecord(
        id=row.id, sha256=row.sha256, diagnosis=VerdictDiagnosis(row.diagnosis), other_text=row.other_text,
        basis=VerdictBasis(row.basis), lesion_id=row.lesion_id, comment=row.comment, reviewer=reviewer,
        recorded_at=row.recorded_at, shown=shown, queue_reason=QueueReason(row.queue_reason),
        image_path=row.image_path, supersedes=row.supersedes, current=current,
    )


def newest_verdict_ids():
    """Subquery (sha256, id) of each image's newest, current, verdict."""
    return select(VerdictRow.sha256, func.max(VerdictRow.id).label("id")).group_by(VerdictRow.sha256).subquery()


def _records(session: Session, query) -> list[VerdictRecord]:
    newest = newest_verdict_ids()
    rows = session.execute(
        query.add_columns(UserRow.name, newest.c.id).join(UserRow, UserRow.id == VerdictRow.reviewer_id)
        .join(newest, newest.c.sha256 == VerdictRow.sha256)
    ).all()
    return [_record(row, name, current=row.id == newest_id) for row, name, newest_id in rows]


def get_verdict(db: ReviewDatabase, verdict_id: int) -> VerdictRecord | None:
    with db.reading() as session:
        found = _records(session, select(VerdictRow).where(VerdictRow.id == verdict_id))
        return found[0] if found else None


def verdict_history(db: ReviewDatabase, sha256: str) -> list[VerdictRecord]:
    """Every verdict on the image, newest (the current one) first."""
    sha256 = _check_sha256(sha256)
    with db.reading() as session:
        return _records(session, select(VerdictRow).where(VerdictRow.sha256 == sha256).order_by(VerdictRow.id.desc()))


def list_verdicts(db: ReviewDatabase, sha256: str | None = None, limit: int | None = None) -> list[VerdictRecord]:
    """Verdicts newest first, of one image or of all."""
    query = select(VerdictRow).order_by(VerdictRow.id.desc()).limit(limit)
    if sha256 is not None:
        query = query.where(VerdictRow.sha256 == _check_sha256(sha256))
    with db.reading() as session:
        return _records(session, query)


def current_verdicts(db: ReviewDatabase, sha256s: Iterable[str] | None = None,
                     bases: Iterable[str | VerdictBasis] | None = None,
                     since: datetime | None = None) -> dict[str, VerdictRecord]:
    """sha256 -> the image's current verdict, for the images given (all by default).

    ``bases`` keeps only images whose current verdict has one of them (a later correction on another
    basis takes the image out: the newest verdict wins); ``since``, only those recorded at or after it.
    """
    newest = newest_verdict_ids()
    query = select(VerdictRow).join(newest, newest.c.id == VerdictRow.id)
    if sha256s is not None:
        query = query.where(VerdictRow.sha256.in_([_check_sha256(s) for s in sha256s]))
    if bases is not None:
        query = query.where(VerdictRow.basis.in_([_choice(VerdictBasis, b, "basis").value for b in bases]))
    if since is not None:
        query = query.where(VerdictRow.recorded_at >= since)
    with db.reading() as session:
        return {record.sha256: record for record in _records(session, query)}


def count_verdicts_since(db: ReviewDatabase, since: datetime, bases: Iterable[str | VerdictBasis] | None = None) -> int:
    """Images whose current verdict was recorded at or after ``since`` (with one of ``bases``): new training cases."""
    return len(current_verdicts(db, bases=bases, since=since))


def _keep(session: Session, sha256: str, jpeg: bytes, user_id: int, verdict_id: int | None) -> bool:
    if session.get(KeptImageRow, sha256) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(KeptImageRow(sha256=sha256, jpeg=jpeg, recorded_by=user_id, verdict_id=verdict_id))
    except IntegrityError:  # kept by another reviewer at the same moment
        return False
    return True


def keep_image(db: ReviewDatabase, sha256: str, jpeg: bytes, recorded_by: str) -> bool:
    """Keeps the prepared JPEG of an upload; False when the image was kept already (the first copy stays)."""
    sha256, jpeg = _check_sha256(sha256), _check_jpeg(jpeg)
    with db.writing() as session:
        user = require_user(session, recorded_by)
        if not Role(user.role).may_record_verdicts:
            raise NotAllowedError(f"{recorded_by!r} is a {user.role}: only reviewers and admins keep images")
        return _keep(session, sha256, jpeg, user.id, None)


def kept_image(db: ReviewDatabase, sha256: str) -> bytes | None:
    """The kept JPEG of the image, or None."""
    with db.reading() as session:
        row = session.get(KeptImageRow, _check_sha256(sha256))
        return None if row is None else row.jpeg
