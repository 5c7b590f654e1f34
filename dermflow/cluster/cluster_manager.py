"""``up``, ``down`` and ``status`` of the local cluster: PostgreSQL, Redis, MariaDB, Airflow on Celery.

    state = cluster_up(cfg)      # installs missing servers (root), generates secrets, starts all, waits healthy
    cluster_status(cfg)          # every process, alive or not, ports, API health
    cluster_down(cfg)            # stops exactly what up started; raises if a process or a port is left

Every process ``up`` starts gets a PID file; ``down`` stops those sessions (SIGTERM, then
SIGKILL after ``cluster.stop_grace_seconds``), stops Postgres with ``pg_ctl stop``, then checks
that no process of those sessions is alive and no port of the cluster is still open.
MariaDB holds ML Metadata for every worker; its password stays in ``secrets.env``, read by each task
when it opens the store (``dermflow/tfx_runtime/metadata_password.py``), never in ``dermflow.yaml``.
The review store (accounts and verdicts) is the ``review`` database of the cluster's PostgreSQL,
made and migrated by ``up``; its password is ``REVIEW_DB_PASSWORD`` of ``secrets.env`` in the same way.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from dermflow.cluster import airflow_services, mariadb_server, postgres_server, redis_server
from dermflow.cluster.cluster_layout import ClusterLayout
from dermflow.cluster.cluster_secrets import ensure_secrets, read_secrets, write_private
from dermflow.cluster.debian_packages import ensure_installed
from dermflow.cluster.managed_process import (
    free_port, session_alive, port_open, read_pid, start_process, stop_session, wait_for,
)
from dermflow.config import DermflowConfig, ReviewConfig, read_config_yaml
from dermflow.review.review_database import PASSWORD_KEY as REVIEW_PASSWORD_KEY, open_review_database

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres"
REDIS = "redis"
MARIADB = "mariadb"
REVIEW_DATABASE = "review"  # the database and its owner role in the cluster's PostgreSQL


class ClusterError(RuntimeError):
    """The cluster could not be started, or ``down`` left something running."""


def layout_of(cfg: DermflowConfig) -> ClusterLayout:
    path = cfg.cluster.state_dir
    return ClusterLayout.at(path if path.is_absolute() else REPO_ROOT / path)


def cluster_config(cfg: DermflowConfig, mariadb_port: int | None = None, postgres_port: int | None = None) -> DermflowConfig:
    """``cfg`` with every path absolute, so every worker sees the same pipeline root, and ML Metadata on MariaDB.

    With ``mariadb_port`` (the cluster's MariaDB), ML Metadata is ``mysql://mlmd@127.0.0.1:<port>/mlmd``,
    its password read from the cluster's ``secrets.env`` at connection time (``paths.metadata_password_file``),
    unless ``paths.metadata_connection`` names another store. Not SQLite: its locking on a shared (network)
    filesystem is unreliable; not PostgreSQL: MLMD 1.17.1's backend cannot store TFX's properties
    (docs/deployment.md#ml-metadata). With ``postgres_port``, the review store is the ``review`` database
    there (password: ``review.password_file`` = ``secrets.env``), unless ``review.database_url`` names another.
    """
    data = cfg.model_dump(mode="json")
    paths = data["paths"]
    for key in ("work_dir", "registry", "pipeline_root", "metadata_path", "metadata_password_file"):
        if paths[key] is not None:
            paths[key] = str(_absolute(paths[key]))
    if mariadb_port is not None and not paths["metadata_connection"]:
        paths["metadata_connection"] = (
            f"mysql://{mariadb_server.USER}@{mariadb_server.HOST}:{mariadb_port}/{mariadb_server.DATABASE}"
        )
        paths["metadata_password_file"] = str(layout_of(cfg).secrets_file)
    elif paths["metadata_path"] is None and not paths["metadata_connection"]:
        paths["metadata_path"] = str(Path(paths["work_dir"]) / "metadata.sqlite")
    data["airflow"]["score_output"] = str(_absolute(data["airflow"]["score_output"]))
    data["review"] = _review_settings(cfg, postgres_port)
    return DermflowConfig.model_validate(data)


def _review_settings(cfg: DermflowConfig, postgres_port: int | None) -> dict:
    review = cfg.review.model_dump(mode="json")
    if review["password_file"] is not None:
        review["password_file"] = str(_absolute(review["password_file"]))
    if not _review_on_the_cluster(cfg):
        return review  # named by the user: kept
    if postgres_port is not None:
        review["database_url"] = _cluster_review_url(postgres_port)
        review["password_file"] = str(layout_of(cfg).secrets_file)
    else:
        review["database_url"] = "sqlite:///" + str(_absolute(cfg.review.database_url.removeprefix("sqlite:///")))
    return review


def _review_on_the_cluster(cfg: DermflowConfig) -> bool:
    """True unless the config names its own review database (the default SQLite file means: the cluster's)."""
    return cfg.review.database_url == ReviewConfig.model_fields["database_url"].default


def _cluster_review_url(postgres_port: int) -> str:
    return f"postgresql+psycopg2://{REVIEW_DATABASE}@127.0.0.1:{postgres_port}/{REVIEW_DATABASE}"


def _absolute(path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else REPO_ROOT / path


def _env(cfg: DermflowConfig, layout: ClusterLayout) -> dict[str, str]:
    state = layout.read_state()
    ports = airflow_services.ServicePorts(**state["ports"])
    return airflow_services.airflow_env(cfg, layout, ports, read_secrets(layout.secrets_file), REPO_ROOT)


def _record(layout: ClusterLayout, name: str, pid: int) -> None:
    """Remembers ``pid``, the leader of the session holding the process and all it starts."""
    state = layout.read_state()
    state.setdefault("started", [])
    if name not in state["started"]:
        state["started"].append(name)
    layout.write_state(state)
    layout.pid_file(name).write_text(f"{pid}\n")


def running_processes(layout: ClusterLayout) -> dict[str, int]:
    """Name -> PID of every process with a PID file whose session still has a live process."""
    alive = {}
    for name in layout.read_state().get("started", []):
        pid = read_pid(layout.pid_file(name))
        if pid is not None and session_alive(pid):
            alive[name] = pid
    return alive


def cluster_up(cfg: DermflowConfig) -> dict:
    """Starts every service and waits until the API, the scheduler, the DAG processor and the workers are ready."""
    layout = layout_of(cfg)
    layout.make_dirs()
    already = running_processes(layout)
    if already:
        raise ClusterError(f"the cluster in {layout.root} is already running ({sorted(already)}); `down` it first")
    clock = time.monotonic()
    ensure_installed(cfg.cluster.install_missing)
    secrets = ensure_secrets(layout.secrets_file)
    ports = airflow_services.ServicePorts(postgres=free_port(), redis=free_port(), api=free_port(), mariadb=free_port())
    layout.write_state({"ports": vars(ports), "started": [], "up_at": datetime.now(timezone.utc).isoformat()})
    steps: dict[str, float] = {}

    def step(name: str, began: float) -> None:
        steps[name] = round(time.monotonic() - began, 1)

    try:
        began = time.monotonic()
        _start_postgres(cfg, layout, ports, secrets)
        step(POSTGRES, began)
        began = time.monotonic()
        _start_redis(cfg, layout, ports, secrets)
        step(REDIS, began)
        began = time.monotonic()
        _start_mariadb(cfg, layout, ports, secrets)
        step(MARIADB, began)
        effective = cluster_config(cfg, ports.mariadb, ports.postgres)
        write_private(layout.config_file, yaml.safe_dump(effective.model_dump(mode="json"), sort_keys=False))
        airflow_services.write_admin_password(layout, secrets)
        env = airflow_services.airflow_env(effective, layout, ports, secrets, REPO_ROOT)
        began = time.monotonic()
        _airflow_db_migrate(env, layout)
        step("airflow-db-migrate", began)
        began = time.monotonic()
        processes = airflow_services.airflow_processes(effective)
        for process in processes:
            _start_airflow(process, env, layout)
        _wait_healthy(effective, layout, ports, processes)
        step("airflow", began)
    except BaseException:
        log.error("cluster up failed; stopping what was started (logs in %s)", layout.logs_dir)
        cluster_down(cfg, check=False)
        raise
    state = layout.read_state()
    state["startup_seconds"] = round(time.monotonic() - clock, 1)
    state["startup_steps_seconds"] = steps
    layout.write_state(state)
    return cluster_status(cfg)


def _start_postgres(cfg, layout: ClusterLayout, ports, secrets) -> None:
    if not postgres_server.initialised(layout.pgdata):
        postgres_server.init_data_dir(layout.pgdata, secrets["POSTGRES_SUPERUSER_PASSWORD"])
    pid = postgres_server.start(layout.pgdata, ports.postgres, layout.log_file(POSTGRES), cfg.cluster.start_timeout_seconds)
    _record(layout, POSTGRES, pid)
    postgres_server.ensure_databases(
        ports.postgres, secrets["POSTGRES_SUPERUSER_PASSWORD"],
        {"airflow": secrets["AIRFLOW_DB_PASSWORD"], REVIEW_DATABASE: secrets[REVIEW_PASSWORD_KEY]},
    )
    if _review_on_the_cluster(cfg):  # its tables, made by the review store's migrations
        open_review_database(_cluster_review_url(ports.postgres), secrets[REVIEW_PASSWORD_KEY]).close()


def _start_redis(cfg, layout: ClusterLayout, ports, secrets) -> None:
    redis_server.write_config(layout.redis_conf, ports.redis, layout.redis_dir, secrets["REDIS_PASSWORD"])
    pid = start_process(redis_server.command(layout.redis_conf), layout.pid_file(REDIS), layout.log_file(REDIS),
                        dict(os.environ), layout.root)
    _record(layout, REDIS, pid)
    wait_for(lambda: port_open(ports.redis), 30, "redis", log_file=layout.log_file(REDIS))


def _start_mariadb(cfg, layout: ClusterLayout, ports, secrets) -> None:
    log_file = layout.log_file(MARIADB)
    if not mariadb_server.initialised(layout.mariadb_dir):
        mariadb_server.init_data_dir(layout.mariadb_dir, log_file)
    mariadb_server.write_init_file(layout.mariadb_init_file, secrets["MLMD_PASSWORD"])
    try:
        command = mariadb_server.command(layout.mariadb_dir, ports.mariadb, layout.mariadb_init_file)
        pid = start_process(command, layout.pid_file(MARIADB), log_file, dict(os.environ), layout.root)
        _record(layout, MARIADB, pid)
        mariadb_server.wait_ready(ports.mariadb, secrets["MLMD_PASSWORD"], cfg.cluster.start_timeout_seconds, log_file)
    finally:
        layout.mariadb_init_file.unlink(missing_ok=True)


def _airflow_db_migrate(env: dict[str, str], layout: ClusterLayout) -> None:
    log_file = layout.log_file("airflow-db-migrate")
    with open(log_file, "ab") as handle:
        result = subprocess.run([airflow_services.airflow_binary(), "db", "migrate"], env=env, cwd=REPO_ROOT,
                                stdout=handle, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
        raise ClusterError(f"airflow db migrate failed ({log_file}):\n{tail}")


def _start_airflow(process: airflow_services.AirflowProcess, env: dict[str, str], layout: ClusterLayout) -> int:
    log_file = layout.log_file(process.name)
    state = layout.read_state()
    state.setdefault("log_offsets", {})[process.name] = log_file.stat().st_size if log_file.is_file() else 0
    layout.write_state(state)
    pid = start_process([airflow_services.airflow_binary(), *process.args], layout.pid_file(process.name), log_file,
                        airflow_services.process_env(env, process), REPO_ROOT)
    _record(layout, process.name, pid)
    return pid


def _wait_healthy(cfg: DermflowConfig, layout: ClusterLayout, ports, processes) -> None:
    deadline = time.monotonic() + cfg.cluster.start_timeout_seconds
    wait_for(lambda: airflow_services.healthy(airflow_services.api_health(ports.api)), deadline - time.monotonic(),
             "the Airflow API, scheduler and DAG processor to report healthy", interval=1.0,
             log_file=layout.log_file("api-server"))
    for process in processes:
        if process.worker:
            _wait_worker(layout, process.name, deadline - time.monotonic())


def _wait_worker(layout: ClusterLayout, name: str, timeout: float) -> None:
    offset = layout.read_state().get("log_offsets", {}).get(name, 0)

    def ready() -> bool:
        if name not in running_processes(layout):
            raise ClusterError(f"Celery worker {name} exited; see {layout.log_file(name)}")
        return airflow_services.worker_ready(layout.log_file(name), name, offset)

    wait_for(ready, max(timeout, 1.0), f"Celery worker {name}", interval=1.0, log_file=layout.log_file(name))


def start_worker(cfg: DermflowConfig, name: str, queue: str | None = None, timeout: float | None = None) -> int:
    """Starts (or restarts) the Celery worker ``name`` of the running cluster and waits until it is ready."""
    layout = layout_of(cfg)
    if name in running_processes(layout):
        raise ClusterError(f"worker {name} is already running")
    effective = DermflowConfig.model_validate(read_config_yaml(layout.config_file.read_text()))
    queue = queue or (effective.airflow.gpu_queue if name.startswith("gpu") else effective.airflow.default_queue)
    process = airflow_services.worker_process(name, queue)
    pid = _start_airflow(process, _env(effective, layout), layout)
    _wait_worker(layout, name, timeout or cfg.cluster.start_timeout_seconds)
    return pid


def stop_process(cfg: DermflowConfig, name: str, sig: int = signal.SIGTERM) -> None:
    """Stops one process of the cluster and everything it started (with SIGKILL: as if its machine died)."""
    layout = layout_of(cfg)
    pid = read_pid(layout.pid_file(name))
    if pid is None:
        raise ClusterError(f"no process named {name} in {layout.pids_dir}")
    stop_session(pid, cfg.cluster.stop_grace_seconds, sig)


def cluster_down(cfg: DermflowConfig, check: bool = True) -> dict:
    """Stops every process ``up`` started, newest first; Postgres last, with ``pg_ctl stop``."""
    layout = layout_of(cfg)
    state = layout.read_state()
    started = list(state.get("started", []))
    report: dict = {"stopped": [], "killed": []}
    for name in reversed(started):
        pid = read_pid(layout.pid_file(name))
        if pid is None:
            continue
        if name == POSTGRES:
            postgres_server.stop(layout.pgdata, cfg.cluster.stop_grace_seconds)
        if session_alive(pid):
            killed = stop_session(pid, cfg.cluster.stop_grace_seconds)
            report["killed" if killed else "stopped"].append(name)
        else:
            report["stopped"].append(name)
    left = [name for name in started
            if (pid := read_pid(layout.pid_file(name))) is not None and session_alive(pid)]
    ports = state.get("ports", {})
    open_ports = {name: port for name, port in ports.items() if port_open(port)}
    report.update(left_running=left, open_ports=open_ports)
    if check and (left or open_ports):
        raise ClusterError(f"cluster down left processes {left} and open ports {open_ports}")
    if not left:
        for name in started:
            layout.pid_file(name).unlink(missing_ok=True)
        state["started"] = []
        layout.write_state(state)
    return report


def cluster_status(cfg: DermflowConfig) -> dict:
    layout = layout_of(cfg)
    state = layout.read_state()
    alive = running_processes(layout)
    ports = state.get("ports", {})
    return {
        "state_dir": str(layout.root),
        "processes": {name: {"pid": read_pid(layout.pid_file(name)), "alive": name in alive,
                             "log": str(layout.log_file(name))} for name in state.get("started", [])},
        "ports": ports,
        "api_url": f"http://127.0.0.1:{ports['api']}" if "api" in ports else None,
        "health": airflow_services.api_health(ports["api"]) if alive and "api" in ports else None,
        "startup_seconds": state.get("startup_seconds"),
        "startup_steps_seconds": state.get("startup_steps_seconds"),
        "config": str(layout.config_file),
    }
