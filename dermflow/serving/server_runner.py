"""Run the server: loopback by default, accounts and a loud warning anywhere else, TLS when given.

    run_server(cfg, model="var/registry", results=["var/scores"], source_roots=["var/inputs"])

A host other than loopback is refused unless ``serve.allow_remote`` (``--allow-remote``) and
``serve.allowed_hosts`` (``--allowed-host``) are set; then every request but ``/healthz`` needs a
signed-in user or an API token (``dermflow users``), and without ``serve.tls_certfile``/``tls_keyfile``
a warning says that passwords, tokens and images travel in clear text. uvicorn's access log shows
method, path, query and status: no header, cookie or form field, so no password or token.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Sequence

from dermflow.config import DermflowConfig
from dermflow.serving.binding import check_binding

log = logging.getLogger(__name__)

CLEAR_TEXT_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! WARNING: dermflow serve listens on {host}:{port} WITHOUT TLS.\n"
    "!! Passwords, session cookies, API tokens and every image travel in CLEAR TEXT over the network.\n"
    "!! Set serve.tls_certfile and serve.tls_keyfile, or put the server behind an HTTPS\n"
    "!! reverse proxy on this machine and keep it on 127.0.0.1 (docs/serving.md).\n"
    + "!" * 78 + "\n"
)


def startup_notices(cfg: DermflowConfig, remote: bool) -> list[str]:
    """What the server prints to stderr before it listens: the clear-text warning and how to sign in."""
    serve = cfg.serve
    notices = []
    if remote and serve.tls_certfile is None:
        notices.append(CLEAR_TEXT_WARNING.format(host=serve.host, port=serve.port))
    if remote or serve.allow_remote or serve.require_sign_in:
        notices.append("dermflow serve: every route but /healthz needs a signed-in user (/login) or an API token "
                       "(Authorization: Bearer ...); accounts: dermflow users add NAME --role viewer|reviewer|admin")
    return notices


def run_server(cfg: DermflowConfig, model: str, results: Sequence[str] = (), source_roots: Sequence[str] = (),
               verbose: bool = False) -> int:
    """``verbose`` False: TensorFlow's start-up lines go to a log file under ``paths.work_dir``/logs, as for score."""
    remote = check_binding(cfg)  # before the heavy imports, so a refused setup answers at once
    from dermflow.console_progress import quiet_console

    with quiet_console(Path(cfg.paths.work_dir) / "logs", "serve", verbose=verbose):
        import uvicorn

        from dermflow.serving.app_factory import create_app

        app = create_app(cfg, model, results, source_roots)
    serve = cfg.serve
    tls = serve.tls_certfile is not None
    for notice in startup_notices(cfg, remote):
        print(notice, file=sys.stderr, flush=True)
    version = app.state.holder.served
    scheme = "https" if tls else "http"
    print(f"dermflow serve: {version.name} {version.version} on {scheme}://{serve.host}:{serve.port}/ "
          f"({'following LATEST' if serve.follow_latest else 'pinned'})", file=sys.stderr, flush=True)
    uvicorn.run(
        app, host=serve.host, port=serve.port, log_level="info",
        ssl_certfile=str(serve.tls_certfile) if tls else None, ssl_keyfile=str(serve.tls_keyfile) if tls else None,
        timeout_graceful_shutdown=10,
    )
    return 0
