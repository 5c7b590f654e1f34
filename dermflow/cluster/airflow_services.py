"""Airflow 3 on Celery: the environment every Airflow process shares, and the processes themselves.

Processes (each its own session, PID file and log): ``api-server`` (the UI, the REST API and the
Execution API that task processes report to), ``scheduler``, ``dag-processor``, and Celery
workers ``default-<i>`` (``--queues <airflow.default_queue>``) and ``gpu-<i>``
(``--queues <airflow.gpu_queue>``). Every server listens on 127.0.0.1 only; the log servers are
off (``--skip-serve-logs``: they would listen on all interfaces), task logs are files under
AIRFLOW_HOME, which every process on this machine reads.
"""
from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dermflow.cluster.cluster_layout import ClusterLayout
from dermflow.cluster.worker_hostname import WORKER_NAME_ENV
from dermflow.config import DermflowConfig

ADMIN_USER = "admin"
CONFIG_ENV = "DERMFLOW_CONFIG"


@dataclass(frozen=True)
class ServicePorts:
    postgres: int
    redis: int
    api: int
    mariadb: int


@dataclass(frozen=True)
class AirflowProcess:
    name: str
    args: tuple[str, ...]
    worker: bool = False
    queue: str | None = None


def airflow_binary() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def airflow_env(
    cfg: DermflowConfig, layout: ClusterLayout, ports: ServicePorts, secrets: dict[str, str], repo_root: Path
) -> dict[str, str]:
    """The environment of every Airflow process of the cluster (and of CLI calls against it)."""
    db = f"airflow:{secrets['AIRFLOW_DB_PASSWORD']}@127.0.0.1:{ports.postgres}/airflow"
    api = f"http://127.0.0.1:{ports.api}"
    venv_bin = str(Path(sys.executable).parent)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW__")}
    env.update({
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "AIRFLOW_HOME": str(layout.airflow_home),
        CONFIG_ENV: str(layout.config_file),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo_root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": secrets["FERNET_KEY"],
        "AIRFLOW__CORE__PARALLELISM": str(4 * (cfg.cluster.default_workers + cfg.cluster.gpu_workers)),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "dermflow.cluster.worker_hostname.worker_hostname",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(layout.airflow_home / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{db}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://:{secrets['REDIS_PASSWORD']}@127.0.0.1:{ports.redis}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{db}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(cfg.cluster.worker_concurrency),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports.api),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets["JWT_SECRET"],
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(cfg.cluster.task_heartbeat_timeout_seconds),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(layout.airflow_home / "logs"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def write_admin_password(layout: ClusterLayout, secrets: dict[str, str]) -> None:
    """SimpleAuthManager's password file, filled with the generated password (it never makes one of its own)."""
    from dermflow.cluster.cluster_secrets import write_private

    write_private(layout.airflow_home / "passwords.json", json.dumps({ADMIN_USER: secrets["ADMIN_PASSWORD"]}) + "\n")


def airflow_processes(cfg: DermflowConfig) -> list[AirflowProcess]:
    processes = [
        AirflowProcess("api-server", ("api-server", "--workers", "1")),
        AirflowProcess("scheduler", ("scheduler", "--skip-serve-logs")),
        AirflowProcess("dag-processor", ("dag-processor",)),
    ]
    pools = [(cfg.airflow.default_queue, "default", cfg.cluster.default_workers),
             (cfg.airflow.gpu_queue, "gpu", cfg.cluster.gpu_workers)]
    for queue, kind, count in pools:
        for index in range(1, count + 1):
            processes.append(worker_process(f"{kind}-{index}", queue))
    return processes


def worker_process(name: str, queue: str) -> AirflowProcess:
    return AirflowProcess(
        name, ("celery", "worker", "--queues", queue, "--celery-hostname", f"{name}@%h", "--skip-serve-logs"),
        worker=True, queue=queue,
    )


def process_env(base: dict[str, str], process: AirflowProcess) -> dict[str, str]:
    return {**base, WORKER_NAME_ENV: process.name} if process.worker else base


def api_health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def healthy(health: dict | None) -> bool:
    """Metadata DB, scheduler and DAG processor all report healthy (no triggerer is run)."""
    if not health:
        return False
    return all((health.get(part) or {}).get("status") == "healthy" for part in ("metadatabase", "scheduler", "dag_processor"))


def worker_ready(log_file: Path, name: str, offset: int = 0) -> bool:
    """Celery logs ``<name>@<host> ready.`` once it consumes from its queues."""
    if not log_file.is_file():
        return False
    with open(log_file, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", errors="replace")
    return re.search(rf"(^|\s){re.escape(name)}@\S+ ready\.", text, re.MULTILINE) is not None
