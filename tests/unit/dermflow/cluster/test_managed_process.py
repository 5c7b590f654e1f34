import socket
import sys

from dermflow.cluster.managed_process import (
    free_port, port_open, read_pid, session_alive, session_members, start_process, stop_session,
)

# A parent whose child moves to a process group of its own (as Airflow's task processes do), then both sleep.
FAMILY = "import os, subprocess, time; subprocess.Popen(['sleep', '60'], process_group=0); time.sleep(60)"
DEAF = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


def _start(tmp_path, code):
    pid = start_process([sys.executable, "-c", code], tmp_path / "p.pid", tmp_path / "p.log", {}, tmp_path)
    assert read_pid(tmp_path / "p.pid") == pid
    return pid


def test_stop_session_stops_the_process_and_its_children(tmp_path):
    pid = _start(tmp_path, FAMILY)
    assert session_alive(pid)
    assert stop_session(pid, grace_seconds=10) is False
    assert not session_alive(pid)


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    import time

    pid = _start(tmp_path, DEAF)
    deadline = time.monotonic() + 10
    while "up" not in (tmp_path / "p.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stop_session(pid, grace_seconds=0.5) is True
    assert not session_alive(pid)


def test_port_checks():
    port = free_port()
    assert not port_open(port)
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert port_open(port)
    assert not port_open(port)


def test_missing_pid_file_reads_none(tmp_path):
    assert read_pid(tmp_path / "none.pid") is None
