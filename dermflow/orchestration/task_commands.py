"""What Airflow tasks share: where the config comes from, and running a command with its output in the task log.

    cfg_path = run_time_config_path(parse_time_config_path())   # the Airflow Variable wins, else DERMFLOW_CONFIG
    stream_command([sys.executable, "-m", "dermflow.cli", "score", ...])
"""
from __future__ import annotations

import collections
import logging
import os
import subprocess
from pathlib import Path

from airflow.sdk import Variable

log = logging.getLogger(__name__)

CONFIG_ENV = "DERMFLOW_CONFIG"
CONFIG_VARIABLE = "dermflow_config"
OUTPUT_TAIL_LINES = 40


def parse_time_config_path(config_path: str | Path | None = None) -> Path | None:
    path = config_path or os.environ.get(CONFIG_ENV)
    return Path(path) if path else None


def run_time_config_path(parse_time_path: str | None) -> str | None:
    """The Airflow Variable ``dermflow_config`` when set, else the path the DAG was parsed with."""
    return Variable.get(CONFIG_VARIABLE, default=None) or parse_time_path


def stream_command(command: list[str], env: dict[str, str] | None = None) -> int:
    """Runs ``command``, logging each output line as it comes; raises with the output tail on failure."""
    log.info("running: %s", " ".join(command))
    tail: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL_LINES)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            log.info("%s", line)
        code = process.wait()
    if code != 0:
        raise RuntimeError(f"command exited with status {code}: {' '.join(command)}\n" + "\n".join(tail))
    return code
