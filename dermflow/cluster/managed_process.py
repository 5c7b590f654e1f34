"""Processes the cluster starts and stops by PID: one session and one log each.

Every process is started with ``start_new_session=True``, so its session holds it and everything
it forks: Celery's pool, and the task processes, which Airflow moves into process groups of their
own (``setpgid``) but which stay in the worker's session, with their Beam subprocesses.
``stop_session`` signals every process of that session, so ``down`` stops exactly what ``up``
started, and killing a worker kills its running tasks too, as when its machine dies.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start_process(
    command: list[str], pid_file: Path, log_file: Path, env: dict[str, str], cwd: Path
) -> int:
    """Starts ``command`` in a new session, output appended to ``log_file``; writes its PID."""
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and int(fields[3]) == sid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def session_alive(sid: int) -> bool:
    _reap(sid)
    return bool(session_members(sid))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, session, ...


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_session(sid: int, grace_seconds: float, sig: int = signal.SIGTERM) -> bool:
    """Signals every process of the session, waits up to ``grace_seconds``, then SIGKILLs what is left.

    Returns True when it had to SIGKILL.
    """
    _signal_all(session_members(sid), sig)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not session_alive(sid):
            return False
        time.sleep(0.2)
    left = session_members(sid)
    if not left:
        return False
    _signal_all(left, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and session_alive(sid):
        time.sleep(0.1)
    return True


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5, log_file: Path | None = None):
    """Polls ``predicate`` until it returns something truthy; raises TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = ""
            if log_file and log_file.is_file():
                tail = "\n" + "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(interval)
