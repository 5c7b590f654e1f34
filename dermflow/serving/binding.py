"""Where the server may listen: loopback unless on purpose.

    check_binding(cfg)          # True for a remote bind; ServeError for a refused setup
    is_loopback("127.0.0.1")    # True

A host other than loopback is refused unless ``serve.allow_remote`` (``--allow-remote``) is set;
then every request needs the bearer token.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

from dermflow.config import DermflowConfig


class ServeError(ValueError):
    """The server cannot start as configured; the message says why and what to change."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(cfg: DermflowConfig) -> bool:
    """True when the bind is remote (token required); raises ServeError for a refused setup."""
    serve = cfg.serve
    remote = not is_loopback(serve.host)
    if remote and not serve.allow_remote:
        raise ServeError(
            f"serve.host {serve.host!r} is not loopback: pass --allow-remote (every request then needs the bearer token "
            f"in {serve.token_file}), or keep 127.0.0.1 behind a reverse proxy"
        )
    if bool(serve.tls_certfile) != bool(serve.tls_keyfile):
        raise ServeError("give both serve.tls_certfile and serve.tls_keyfile, or neither")
    for path in (serve.tls_certfile, serve.tls_keyfile):
        if path is not None and not Path(path).is_file():
            raise ServeError(f"TLS file not found: {path}")
    return remote
