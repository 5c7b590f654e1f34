"""`dermflow serve`'s arguments (no heavy import, so `dermflow --help` stays fast).

    add_arguments(parser); return run(args, cfg)
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="REGISTRY[/NAME[/VERSION]]")
    parser.add_argument("--results", action="append", default=[], help="A `dermflow score` output folder (repeatable).")
    parser.add_argument("--source-root", action="append", default=[], help="Folder the scored paths are relative to (repeatable).")
    parser.add_argument("--host", help="Bind address (serve.host, default 127.0.0.1).")
    parser.add_argument("--port", type=int, help="TCP port (serve.port, default 8765).")
    parser.add_argument("--allow-remote", action="store_const", const=True, help="Permit a non-loopback --host (token required).")
    parser.add_argument("--follow-latest", action="store_const", const=True, help="Switch when the registry's LATEST moves.")


def flag_overrides(args: argparse.Namespace) -> dict[str, object]:
    return {"serve.host": args.host, "serve.port": args.port, "serve.allow_remote": args.allow_remote,
            "serve.follow_latest": args.follow_latest}


def run(args: argparse.Namespace, cfg) -> int:
    from dermflow.registry import RegistryError
    from dermflow.serving.binding import ServeError
    from dermflow.serving.server_runner import run_server

    try:
        return run_server(cfg, args.model, args.results, args.source_root)
    except (ServeError, RegistryError) as exc:
        print(f"dermflow serve: {exc}", file=sys.stderr, flush=True)
        return 2
