"""The bearer token: generated at first start into a git-ignored file (mode 0600), never a default one.

    token = ensure_token(cfg.serve.token_file)       # reads it, or writes a new random one
    token_matches(request_header_or_cookie, token)   # constant-time comparison
"""
from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from dermflow.atomic_write import atomic_path

COOKIE = "dermflow_token"


def ensure_token(path: str | Path) -> str:
    path = Path(path)
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 32:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    with atomic_path(path) as temporary:  # created 0600, so the token is never readable by others
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
    return token


def bearer_of(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_matches(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())
