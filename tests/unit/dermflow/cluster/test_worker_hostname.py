import socket

from dermflow.cluster.worker_hostname import WORKER_NAME_ENV, worker_hostname, worker_of


def test_a_worker_records_its_name(monkeypatch):
    monkeypatch.setenv(WORKER_NAME_ENV, "gpu-1")
    assert worker_hostname() == f"gpu-1@{socket.getfqdn()}"
    assert worker_of(worker_hostname()) == "gpu-1"


def test_outside_a_worker_it_is_the_machine_name(monkeypatch):
    monkeypatch.delenv(WORKER_NAME_ENV, raising=False)
    assert worker_hostname() == socket.getfqdn()
    assert worker_of(worker_hostname()) is None
    assert worker_of(None) is None
