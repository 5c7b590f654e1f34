"""The cluster's Redis: Celery's broker, on 127.0.0.1, password-protected, nothing saved to disk."""
from __future__ import annotations

from pathlib import Path

from dermflow.cluster.cluster_secrets import write_private
from dermflow.cluster.debian_packages import redis_server_binary


def write_config(conf: Path, port: int, data_dir: Path, password: str) -> None:
    write_private(conf, "\n".join([
        "bind 127.0.0.1",
        f"port {port}",
        "protected-mode yes",
        f"dir {data_dir}",
        'save ""',
        "appendonly no",
        "daemonize no",
        f"requirepass {password}",
        "",
    ]))


def command(conf: Path) -> list[str]:
    binary = redis_server_binary()
    if binary is None:
        raise FileNotFoundError("redis-server not found (apt-get install redis-server)")
    return [str(binary), str(conf)]
