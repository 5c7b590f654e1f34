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
- ``reviewed_case_figures``: ``reviewed_performance(db)`` -> ``ReviewedPerformance`` per model version and group.
- ``verdict_export``: ``export_verdicts(db, out_dir)`` -> ``ExportSummary`` (schema: ``dermflow.schemas.verdicts_schema``).

Every name above is importable from ``dermflow.review``. Comments may hold patient data: they leave
the database only to the pages that show them, never into an export, a log or the console.
"""
import importlib

# name -> the module defining it; imported on first use, so ``dermflow --help`` stays quick.
_DEFINED_IN = {
    "review_database": ("ReviewDatabase", "open_configured_review_database", "open_review_database"),
    "review_enums": ("QueueReason", "Role", "VerdictBasis", "VerdictDiagnosis"),
    "review_errors": ("AccountError", "DatabaseVersionError", "InvalidVerdictError", "NotAllowedError",
                      "ReviewStoreError", "UnknownUserError"),
    "reviewed_case_figures": ("ReviewedPerformance", "Share", "reviewed_performance"),
    "sign_in_sessions": ("SignIn", "clear_failed_logins", "create_session", "delete_session", "expire_sessions",
                         "failed_logins", "login_blocked", "lookup_session", "record_failed_login"),
    "user_accounts": ("UserAccount", "add_user", "change_password", "change_role", "get_user", "issue_api_token",
                      "list_users", "revoke_api_token", "revoke_api_tokens", "set_disabled", "user_for_api_token",
                      "verify_credentials"),
    "verdict_export": ("ExportSummary", "export_verdicts"),
    "verdict_store": ("ShownPrediction", "VerdictRecord", "correct_verdict", "count_verdicts_since", "current_verdicts",
                      "get_verdict", "keep_image", "kept_image", "list_verdicts", "record_verdict", "verdict_history"),
}
_MODULE_OF = {name: module for module, names in _DEFINED_IN.items() for name in names}


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'dermflow.review' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dermflow.review.{_MODULE_OF[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))


__all__ = sorted(_MODULE_OF)
