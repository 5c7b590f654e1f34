"""Where the server may listen, and under which names it may be reached: loopback unless on purpose.

    check_binding(cfg)          # True for a remote bind; ServeError for a refused setup
    is_loopback("[::1]")        # True: 127.0.0.0/8, ::1 (with or without brackets) and localhost
    allowed_hosts(cfg.serve)    # the Host-header names the server answers to
    host_of("[::1]:8765")       # "::1": the name of a Host header, without its port

A host other than loopback is refused unless ``serve.allow_remote`` (``--allow-remote``) is set,
and then only with ``serve.allowed_hosts`` (``--allowed-host``): the names browsers use to reach
it. A request whose ``Host`` header names anything else is refused, so a web page elsewhere cannot
read the results through DNS rebinding.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

from dermflow.config import DermflowConfig, ServeConfig

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class ServeError(ValueError):
    """The server cannot start as configured; the message says why and what to change."""


def bare_host(host: str) -> str:
    """``[::1]`` -> ``::1``; names lower-cased."""
    host = host.strip().lower()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback(host: str) -> bool:
    host = bare_host(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(serve: ServeConfig) -> frozenset[str]:
    """The Host-header names (no port, no brackets) this server answers to."""
    names = {bare_host(name) for name in serve.allowed_hosts}
    if not serve.allow_remote or not names:
        names |= LOOPBACK_NAMES | {bare_host(serve.host)}
    return frozenset(names)


def host_of(header: str | None) -> str | None:
    """The name of a ``Host`` header without its port (``[::1]:8765`` -> ``::1``); None when malformed."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        rest = header[end + 1:] if end > 0 else ""
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return header[1:end]
    if header.count(":") > 1:
        return None  # an IPv6 address must be in brackets in a Host header
    name, _, port = header.partition(":")
    if ":" in header and not port.isdigit():
        return None
    return name or None


def check_binding(cfg: DermflowConfig) -> bool:
    """True when the bind is remote (a signed-in user or an API token required); ServeError for a refused setup."""
    serve = cfg.serve
    remote = not is_loopback(serve.host)
    if remote and not serve.allow_remote:
        raise ServeError(
            f"serve.host {serve.host!r} is not loopback: pass --allow-remote and --allowed-host NAME (every request then "
            "needs a signed-in user or an API token), or keep 127.0.0.1 behind a reverse proxy"
        )
    if serve.allow_remote and not serve.allowed_hosts:
        raise ServeError(
            "--allow-remote needs --allowed-host NAME (repeatable, serve.allowed_hosts): the host names browsers use to "
            "reach this server; a request naming any other Host is refused"
        )
    if bool(serve.tls_certfile) != bool(serve.tls_keyfile):
        raise ServeError("give both serve.tls_certfile and serve.tls_keyfile, or neither")
    for path in (serve.tls_certfile, serve.tls_keyfile):
        if path is not None and not Path(path).is_file():
            raise ServeError(f"TLS file not found: {path}")
    return remote
