"""``dermflow cluster up|down|status [--config FILE] [--set KEY=VALUE]``: prints JSON, exits non-zero on failure."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from dermflow.config import ConfigError, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--config", type=Path, help="YAML config the DAGs run with on the cluster.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


def run(args: argparse.Namespace) -> int:
    from dermflow.cluster.cluster_manager import ClusterError, cluster_down, cluster_status, cluster_up

    cfg = load_config(args.config, args.overrides)
    action = {"up": cluster_up, "down": cluster_down, "status": cluster_status}[args.action]
    try:
        result = action(cfg)
    except (ClusterError, TimeoutError, RuntimeError) as exc:
        print(f"dermflow cluster {args.action}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="dermflow cluster", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConfigError as exc:
        print(f"dermflow cluster: {exc}", file=sys.stderr)
        return 2
