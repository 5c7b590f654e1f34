"""Binding rules: loopback by default, anything else only on purpose; the serve config section."""
from __future__ import annotations

import pytest

from dermflow.config import ConfigError, load_config
from dermflow.serving.binding import ServeError, check_binding, is_loopback
from dermflow.serving.server_runner import startup_notices


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")


def test_the_default_binds_loopback_without_a_token():
    cfg = load_config()
    assert cfg.serve.host == "127.0.0.1" and cfg.serve.max_upload_bytes == 20_000_000
    assert check_binding(cfg) is False


def test_another_host_needs_the_explicit_flag():
    with pytest.raises(ServeError, match="allow-remote"):
        check_binding(load_config(None, ["serve.host=0.0.0.0"]))
    assert check_binding(load_config(None, ["serve.host=0.0.0.0", "serve.allow_remote=true"])) is True


def test_tls_needs_both_files(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ServeError, match="both"):
        check_binding(load_config(None, [f"serve.tls_certfile={cert}"]))


def test_unknown_serve_keys_are_refused():
    with pytest.raises(ConfigError):
        load_config(None, ["serve.max_upload=5"])


def test_a_remote_bind_without_tls_warns_loudly_and_loopback_says_nothing(tmp_path):
    remote = load_config(None, ["serve.host=0.0.0.0", "serve.allow_remote=true", f"serve.token_file={tmp_path / 't'}"])
    warning, token_line = startup_notices(remote, remote=True)
    assert "WITHOUT TLS" in warning and "CLEAR TEXT" in warning and "0.0.0.0:8765" in warning
    assert str(tmp_path / "t") in token_line
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    with_tls = load_config(None, ["serve.host=0.0.0.0", "serve.allow_remote=true", f"serve.tls_certfile={tmp_path / 'c.pem'}",
                                  f"serve.tls_keyfile={tmp_path / 'k.pem'}"])
    assert check_binding(with_tls) is True
    assert not any("WITHOUT TLS" in notice for notice in startup_notices(with_tls, remote=True))
    assert startup_notices(load_config(), remote=False) == []
