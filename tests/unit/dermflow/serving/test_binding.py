"""Binding rules: loopback by default (IPv4 and IPv6), anything else only on purpose and under named hosts."""
from __future__ import annotations

import argparse

import pytest

from dermflow.config import load_config
from dermflow.serving.binding import ServeError, allowed_hosts, check_binding, host_of, is_loopback
from dermflow.serving.serve_cli import add_arguments, flag_overrides


def _flags_config(*argv: str):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--model", "m", *argv])
    return load_config(None, [f"{key}={value}" for key, value in flag_overrides(args).items() if value is not None])


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.4")
    assert not is_loopback("example.org")


def test_the_default_binds_loopback_without_a_token():
    cfg = load_config()
    assert cfg.serve.host == "127.0.0.1" and cfg.serve.max_upload_bytes == 20_000_000
    assert check_binding(cfg) is False


@pytest.mark.parametrize("host, remote", [("::1", False), ("[::1]", False), ("::", True), ("0.0.0.0", True)])
def test_ipv6_hosts_pass_config_validation_from_the_flags(host, remote):
    cfg = _flags_config("--host", host)
    assert cfg.serve.host == host.strip("[]")
    if remote:
        with pytest.raises(ServeError, match="allow-remote"):
            check_binding(cfg)
    else:
        assert check_binding(cfg) is False


def test_another_host_needs_allow_remote_and_allowed_hosts():
    with pytest.raises(ServeError, match="allow-remote"):
        check_binding(load_config(None, ["serve.host=0.0.0.0"]))
    with pytest.raises(ServeError, match="allowed-host"):
        check_binding(_flags_config("--host", "0.0.0.0", "--allow-remote"))
    cfg = _flags_config("--host", "::", "--allow-remote", "--allowed-host", "derm.example.org", "--allowed-host", "10.0.0.5")
    assert check_binding(cfg) is True
    assert allowed_hosts(cfg.serve) == {"derm.example.org", "10.0.0.5"}


def test_loopback_answers_to_loopback_names_only():
    names = allowed_hosts(load_config().serve)
    assert {"localhost", "127.0.0.1", "::1"} <= names
    assert "evil.example.com" not in names and "0.0.0.0" not in names


@pytest.mark.parametrize("header, name", [
    ("127.0.0.1:8765", "127.0.0.1"), ("localhost", "localhost"), ("[::1]:8765", "::1"), ("[::1]", "::1"),
    ("Evil.Example.com:80", "evil.example.com"), ("", None), (None, None), ("::1", None), ("[::1]x", None),
    ("host:port", None),
])
def test_the_name_of_a_host_header(header, name):
    assert host_of(header) == name


def test_tls_needs_both_files(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ServeError, match="both"):
        check_binding(load_config(None, [f"serve.tls_certfile={cert}"]))
