"""A password read when a connection opens: from an environment variable, else a KEY=VALUE file.

    password = read_secret("DERMFLOW_REVIEW_DB_PASSWORD", cfg.review.password_file, "REVIEW_DB_PASSWORD",
                           setting="review.password_file")

One rule for every database dermflow connects to with a password (ML Metadata on MariaDB, the
review store on PostgreSQL): the config names the server without a password (the config is
stored in ML Metadata, the registry and logs, and refuses one), the variable wins, and the
file is the one the local cluster writes (``secrets.env``, 0600). Nothing here logs a value.
"""
from __future__ import annotations

import os
from pathlib import Path


class MissingPasswordError(RuntimeError):
    """A connection needs a password, and neither the variable nor the file gives it."""


def read_key(path: Path, key: str) -> str | None:
    """The value of ``KEY=...`` in a KEY=VALUE file (blank and ``#`` lines skipped), or None."""
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name == key:
            return value
    return None


def read_secret(env_var: str, file: Path | None, key: str, setting: str) -> str | None:
    """``$env_var`` when set, else ``key`` in ``file`` (``setting`` names it in the error), else None."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    if file is None:
        return None
    if not Path(file).is_file():
        raise MissingPasswordError(f"{setting} {file} does not exist")
    return read_key(Path(file), key)
