"""The bearer token: random, generated once into a private file, compared in constant time."""
from __future__ import annotations

import stat

from dermflow.serving.access_token import bearer_of, ensure_token, token_matches


def test_the_token_is_generated_once_into_a_private_file(tmp_path):
    path = tmp_path / "serve" / "token"
    token = ensure_token(path)
    assert len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_token(path) == token
    assert ensure_token(tmp_path / "other") != token  # never a default token


def test_bearer_header_parsing_and_comparison():
    assert bearer_of("Bearer abc") == "abc"
    assert bearer_of("bearer  abc ") == "abc"
    assert bearer_of("Basic abc") is None and bearer_of(None) is None and bearer_of("Bearer ") is None
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc") and not token_matches(None, "abc") and not token_matches("", "abc")
