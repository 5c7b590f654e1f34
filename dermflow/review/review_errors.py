"""What the review store refuses, as exceptions the web page and the CLI turn into one clear line.

    try: record_verdict(db, ...)
    except NotAllowedError: ...   # 403: the user may not do this
    except ReviewStoreError: ...  # 400: the request itself is wrong (the message says which field)

Messages never repeat a password, a token or a comment.
"""
from __future__ import annotations


class ReviewStoreError(ValueError):
    """A request the review store refuses; the message says what and why (the CLI's exit 2)."""


class UnknownUserError(ReviewStoreError):
    """No account of that name."""


class AccountError(ReviewStoreError):
    """An account cannot be made or changed as asked (name taken, bad name, weak password)."""


class NotAllowedError(ReviewStoreError):
    """The user exists but may not do this (a viewer recording a verdict, a disabled account)."""


class InvalidVerdictError(ReviewStoreError):
    """A verdict with a missing or wrong field, or a correction of the wrong verdict."""


class DatabaseVersionError(ReviewStoreError):
    """The database was migrated by a newer dermflow than this one."""
