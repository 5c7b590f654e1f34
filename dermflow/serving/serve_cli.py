"""`dermflow serve`'s arguments (no heavy import, so `dermflow --help` stays fast).

    add_arguments(parser); return run(args, cfg)
"""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="REGISTRY[/NAME[/VERSION]]")
    parser.add_argument("--results", action="append", default=[], help="A `dermflow score` output folder (repeatable).")
    parser.add_argument("--source-root", action="append", default=[], help="Folder the scored paths are relative to (repeatable).")
    parser.add_argument("--host", help="Bind address (serve.host, default 127.0.0.1; IPv6 as ::1 or [::1]).")
    parser.add_argument("--port", type=int, help="TCP port (serve.port, default 8765).")
    parser.add_argument("--allow-remote", action="store_const", const=True,
                        help="Permit a non-loopback --host (every route but /healthz then needs a signed-in user or an API token).")
    parser.add_argument("--allowed-host", action="append", default=None, metavar="NAME",
                        help="A host name browsers use to reach the server (repeatable; required with --allow-remote).")
    parser.add_argument("--follow-latest", action="store_const", const=True, help="Switch when the registry's LATEST moves.")


def flag_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The flags as config overrides; strings JSON-quoted, so that ``::`` or ``[::1]`` reach the config as written."""
    return {
        "serve.host": None if args.host is None else json.dumps(args.host), "serve.port": args.port,
        "serve.allow_remote": args.allow_remote, "serve.follow_latest": args.follow_latest,
        "serve.allowed_hosts": None if args.allowed_host is None else json.dumps(args.allowed_host),
    }


def run(args: argparse.Namespace, cfg) -> int:
    from dermflow.registry import RegistryError
    from dermflow.review import ReviewStoreError
    from dermflow.serving.binding import ServeError
    from dermflow.serving.server_runner import run_server

    try:
        return run_server(cfg, args.model, args.results, args.source_root, verbose=args.verbose)
    except (ServeError, RegistryError, ReviewStoreError) as exc:
        print(f"dermflow serve: {exc}", file=sys.stderr, flush=True)
        return 2
