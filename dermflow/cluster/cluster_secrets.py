"""The cluster's secrets: generated once, at the first ``up``, into ``secrets.env`` (mode 0600).

Nothing is shipped with a default: a fresh checkout has no secrets.env, and ``up`` makes one
with ``secrets.token_urlsafe``. Later ``up``s reuse it (the Postgres data dir was initialised
with those passwords); ``make clean`` (which removes ``var/``) deletes both. A secrets file from
before a secret existed gets it added at the next ``up``.
"""
from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

SECRET_NAMES = (
    "POSTGRES_SUPERUSER_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "REDIS_PASSWORD",
    "JWT_SECRET",
    "FERNET_KEY",
    "ADMIN_PASSWORD",
    "MLMD_PASSWORD",  # MariaDB's ``mlmd`` user; read at connection time (paths.metadata_password_file)
    "REVIEW_DB_PASSWORD",  # PostgreSQL's ``review`` role; read at connection time (review.password_file)
)


def new_secret(name: str) -> str:
    if name == "FERNET_KEY":  # Fernet wants 32 url-safe base64-encoded bytes
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    return secrets.token_urlsafe(32)


def read_secrets(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def write_private(path: Path, text: str) -> None:
    """Writes ``text`` to ``path``, readable by its owner only, never world-readable even briefly."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def ensure_secrets(path: Path) -> dict[str, str]:
    """Reads ``path``; generates the secrets it lacks (all of them at the first start)."""
    values = read_secrets(path) if path.is_file() else {}
    missing = [name for name in SECRET_NAMES if not values.get(name)]
    if missing or not path.is_file():
        values.update({name: new_secret(name) for name in missing})
        lines = ["# dermflow local cluster secrets: generated, local only, never commit."]
        lines += [f"{name}={values[name]}" for name in SECRET_NAMES]
        write_private(path, "\n".join(lines) + "\n")
    return values
