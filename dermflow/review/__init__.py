"""The review store: accounts, sign-ins and clinicians' verdicts, in SQLite or PostgreSQL (docs/review.md).

    db = open_configured_review_database(cfg.review)              # migrates to the newest schema at open
    add_user(db, "alice", Role.REVIEWER, password)
    signed_in = create_session(db, "alice", hours=cfg.review.session_hours)
    verdict = record_verdict(db, reviewer="alice", sha256=digest, diagnosis="MEL", basis="histopathology",
                             shown=ShownPrediction(model_name, version, "NV", probabilities, out_of_scope, run_id),
                             queue_reason=QueueReason.MELANOMA_BAND)
    correct_verdict(db, verdict.id, reviewer="alice", diagnosis="NV", basis="consensus")
    export_verdicts(db, "var/scores")                              # <out>/verdicts/model_version=<v>/*.parquet

One module per role:

- ``review_enums``: ``Role``, ``VerdictBasis``, ``VerdictDiagnosis``, ``QueueReason`` (StrEnums).
- ``review_errors``: ``ReviewStoreError`` and its kinds (``UnknownUserError``, ``AccountError``,
  ``NotAllowedError``, ``InvalidVerdictError``, ``DatabaseVersionError``).
- ``review_database``: ``open_review_database(url, password=None)``, ``open_configured_review_database(review)``
  -> ``ReviewDatabase`` (``.reading()``, ``.writing()``, ``.close()``, ``.url``, ``.dialect``).
- ``review_tables``: the SQLAlchemy tables; ``migrations/``: their Alembic revisions.
- ``password_hashing``: scrypt ``hash_password``, ``verify_password``.
- ``user_accounts``: ``UserAccount``; ``add_user``, ``get_user``, ``list_users``, ``change_password``,
  ``change_role``, ``set_disabled``, ``verify_credentials``, ``issue_api_token``, ``revoke_api_token``,
  ``revoke_api_tokens``, ``user_for_api_token``.
- ``sign_in_sessions``: ``SignIn``; ``create_session``, ``lookup_session``, ``delete_session``,
  ``expire_sessions``; ``record_failed_login``, ``failed_logins``, ``login_blocked``, ``clear_failed_logins``.
- ``verdict_store``: ``ShownPrediction``, ``VerdictRecord``; ``record_verdict``, ``correct_verdict``,
  ``get_verdict``, ``verdict_history``, ``list_verdicts``, ``current_verdicts``, ``count_verdicts_since``,
  ``keep_image``, ``kept_image``.
- ``reviewed_performance``: ``reviewed_performance(db)`` -> ``ReviewedPerformance`` per model version and group.
- ``verdict_export``: ``export_verdicts(db, out_dir)`` -> ``ExportSummary`` (schema: ``dermflow.schemas.verdicts_schema``).

Every name above is importable from ``dermflow.review``. Comments may hold patient data: they leave
the database only to the pages that show them, never into an export, a log or the console.
"""
from dermflow.review.review_database import ReviewDatabase, open_configured_review_database, open_review_database
from dermflow.review.review_enums import QueueReason, Role, VerdictBasis, VerdictDiagnosis
from dermflow.review.review_errors import (
    AccountError, DatabaseVersionError, InvalidVerdictError, NotAllowedError, ReviewStoreError, UnknownUserError,
)
from dermflow.review.reviewed_performance import ReviewedPerformance, Share, reviewed_performance
from dermflow.review.sign_in_sessions import (
    SignIn, clear_failed_logins, create_session, delete_session, expire_sessions, failed_logins, login_blocked,
    lookup_session, record_failed_login,
)
from dermflow.review.user_accounts import (
    UserAccount, add_user, change_password, change_role, get_user, issue_api_token, list_users, revoke_api_token,
    revoke_api_tokens, set_disabled, user_for_api_token, verify_credentials,
)
from dermflow.review.verdict_export import ExportSummary, export_verdicts
from dermflow.review.verdict_store import (
    ShownPrediction, VerdictRecord, correct_verdict, count_verdicts_since, current_verdicts, get_verdict, keep_image,
    kept_image, list_verdicts, record_verdict, verdict_history,
)

__all__ = [
    "AccountError", "DatabaseVersionError", "ExportSummary", "InvalidVerdictError", "NotAllowedError", "QueueReason",
    "ReviewDatabase", "ReviewStoreError", "ReviewedPerformance", "Role", "Share", "ShownPrediction", "SignIn",
    "UnknownUserError", "UserAccount", "VerdictBasis", "VerdictDiagnosis", "VerdictRecord", "add_user",
    "change_password", "change_role", "clear_failed_logins", "correct_verdict", "count_verdicts_since",
    "create_session", "current_verdicts", "delete_session", "expire_sessions", "export_verdicts", "failed_logins",
    "get_user", "issue_api_token", "keep_image", "kept_image", "list_users", "list_verdicts", "login_blocked",
    "lookup_session", "open_configured_review_database", "open_review_database", "record_failed_login",
    "record_verdict", "reviewed_performance", "revoke_api_token", "revoke_api_tokens", "set_disabled",
    "user_for_api_token", "verdict_history", "verify_credentials",
]
