import socket
import sys

from dermflow.cluster.managed_process import free_port, group_alive, port_open, read_pid, start_process, stop_group

# A parent that forks a child into its own process group, then both sleep.
FAMILY = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
DEAF = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


def _start(tmp_path, code):
    pid = start_process([sys.executable, "-c", code], tmp_path / "p.pid", tmp_path / "p.log", {}, tmp_path)
    assert read_pid(tmp_path / "p.pid") == pid
    return pid


def test_stop_group_stops_the_process_and_its_children(tmp_path):
    pid = _start(tmp_path, FAMILY)
    assert group_alive(pid)
    assert stop_group(pid, grace_seconds=10) is False
    assert not group_alive(pid)


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    import time

    pid = _start(tmp_path, DEAF)
    deadline = time.monotonic() + 10
    while "up" not in (tmp_path / "p.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stop_group(pid, grace_seconds=0.5) is True
    assert not group_alive(pid)


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
