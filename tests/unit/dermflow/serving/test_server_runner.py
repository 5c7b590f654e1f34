"""What the server says before it listens; the serve config section."""
from __future__ import annotations

import pytest

from dermflow.config import ConfigError, load_config
from dermflow.serving.binding import check_binding
from dermflow.serving.server_runner import startup_notices


def test_unknown_serve_keys_are_refused():
    with pytest.raises(ConfigError):
        load_config(None, ["serve.max_upload=5"])


def test_a_remote_bind_without_tls_warns_loudly_and_loopback_says_nothing(tmp_path):
    remote = load_config(None, ["serve.host=0.0.0.0", "serve.allow_remote=true", "serve.allowed_hosts=[derm.example.org]"])
    warning, sign_in_line = startup_notices(remote, remote=True)
    assert "WITHOUT TLS" in warning and "CLEAR TEXT" in warning and "0.0.0.0:8765" in warning
    assert "signed-in user" in sign_in_line and "dermflow users add" in sign_in_line
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    with_tls = load_config(None, ["serve.host=0.0.0.0", "serve.allow_remote=true", "serve.allowed_hosts=[derm.example.org]",
                                  f"serve.tls_certfile={tmp_path / 'c.pem'}",
                                  f"serve.tls_keyfile={tmp_path / 'k.pem'}"])
    assert check_binding(with_tls) is True
    assert not any("WITHOUT TLS" in notice for notice in startup_notices(with_tls, remote=True))
    assert startup_notices(load_config(), remote=False) == []
