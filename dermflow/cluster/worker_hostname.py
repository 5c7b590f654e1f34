"""The hostname Airflow records for a task instance, naming the Celery worker that ran it.

Airflow stores the machine's hostname in ``task_instance.hostname``; with several workers on
one machine that cannot tell them apart. The cluster sets ``[core] hostname_callable`` to
``worker_hostname`` and starts each worker with ``DERMFLOW_WORKER_NAME``, so the column reads
``<worker>@<host>`` (Celery's own node-name form), set by the process that ran the task.
"""
from __future__ import annotations

import os
import socket

WORKER_NAME_ENV = "DERMFLOW_WORKER_NAME"


def worker_hostname() -> str:
    host = socket.getfqdn()
    name = os.environ.get(WORKER_NAME_ENV)
    return f"{name}@{host}" if name else host


def worker_of(hostname: str | None) -> str | None:
    """``default-1@host`` -> ``default-1``; None for a hostname not set by a cluster worker."""
    if not hostname or "@" not in hostname:
        return None
    return hostname.split("@", 1)[0]
