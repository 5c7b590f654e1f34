"""A quiet console for long commands: our lines on the console, third-party chatter in a log file.

    with quiet_console(work_dir / "logs", "train", verbose=args.verbose), tfx_component_lines("train"):
        run_training(cfg)

Inside ``quiet_console`` the process's file descriptor 2 points at the log file, so TensorFlow's C++
lines, Beam workers' stderr (child processes inherit it), absl's repeated warnings and Python
warnings land there; stdout stays on the console, and warnings of ``dermflow.*`` loggers (a
rejected image, a gate not met) are copied to the console. ``verbose`` leaves everything as it is.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, TextIO

_TFX_COMPONENT = re.compile(r"^Component (\S+) is (running|finished)\.?$")


def format_duration(seconds: float) -> str:
    """``42s``, ``3m07s``, ``2h05m``: an elapsed time or an ETA on a progress line."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


@contextmanager
def quiet_console(log_dir: Path, command: str, verbose: bool = False) -> Iterator[Path | None]:
    if verbose:
        yield None
        return
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"{command}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{os.getpid()}.log"
    print(f"{command}: full log in {path}", flush=True)
    sys.stderr.flush()
    console_fd = os.dup(2)
    console = open(console_fd, "w", buffering=1, encoding="utf-8", closefd=True)
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    visible = logging.StreamHandler(console)
    visible.setLevel(logging.WARNING)
    visible.setFormatter(logging.Formatter(f"{command}: %(levelname)s %(message)s"))
    ours = logging.getLogger("dermflow")
    ours.addHandler(visible)
    logging.captureWarnings(True)
    try:
        yield path
    finally:
        sys.stderr.flush()
        ours.removeHandler(visible)
        logging.captureWarnings(False)
        os.dup2(console_fd, 2)
        console.close()


@contextmanager
def tfx_component_lines(command: str, out: TextIO | None = None) -> Iterator[None]:
    """Prints ``command:   12s  Trainer running`` / ``... finished`` for each TFX component LocalDagRunner runs."""
    start = time.monotonic()
    begun: dict[str, float] = {}

    class _ComponentLines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            match = _TFX_COMPONENT.match(record.getMessage().strip())
            if not match:
                return
            node, state = match.groups()
            now = time.monotonic()
            took = f" in {now - begun.get(node, now):.0f}s" if state == "finished" else ""
            begun.setdefault(node, now)
            print(f"{command}: {now - start:6.0f}s  {node} {state}{took}", file=out or sys.stdout, flush=True)

    handler = _ComponentLines(logging.INFO)
    absl = logging.getLogger("absl")
    previous = absl.level
    absl.setLevel(min(previous or logging.INFO, logging.INFO))
    # Something in the Trainer sets absl's verbosity back to WARNING (through Logger.setLevel);
    # TFX announces each component at INFO, so the level is held at INFO until the run ends.
    absl.setLevel = lambda level: None
    absl.addHandler(handler)
    try:
        yield
    finally:
        absl.removeHandler(handler)
        del absl.setLevel
        absl.setLevel(previous)
