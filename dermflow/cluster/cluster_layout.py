"""Where the local cluster keeps its state: one folder, git-ignored (``var/cluster`` by default).

    <state_dir>/secrets.env        generated passwords and keys (mode 0600)
    <state_dir>/state.json         the ports chosen at the last ``up``
    <state_dir>/dermflow.yaml      the config every Airflow process parses the DAGs with (0600)
    <state_dir>/pids/<name>.pid    one per process ``up`` started
    <state_dir>/logs/<name>.log    one per process
    <state_dir>/pgdata/            PostgreSQL data dir (owned by the ``postgres`` user when run as root)
    <state_dir>/redis/             Redis working dir (no snapshots are saved)
    <state_dir>/mariadb/           MariaDB data dir, its PID file and socket (ML Metadata; owned by ``mysql`` as root)
    <state_dir>/airflow/           AIRFLOW_HOME (airflow.cfg, task logs)
    <state_dir>/work/              the pipeline root, registry, scores: one path every worker sees
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClusterLayout:
    root: Path

    @classmethod
    def at(cls, state_dir: str | Path) -> "ClusterLayout":
        return cls(Path(state_dir).resolve())

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.env"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def config_file(self) -> Path:
        return self.root / "dermflow.yaml"

    @property
    def pids_dir(self) -> Path:
        return self.root / "pids"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    @property
    def mariadb_dir(self) -> Path:
        return self.root / "mariadb"

    @property
    def mariadb_init_file(self) -> Path:
        """SQL setting the ML Metadata user's password at start-up; exists only while MariaDB starts."""
        return self.root / ".mariadb-init.sql"

    @property
    def redis_conf(self) -> Path:
        return self.root / "redis.conf"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def work_dir(self) -> Path:
        return self.root / "work"

    def pid_file(self, name: str) -> Path:
        return self.pids_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def make_dirs(self) -> None:
        for folder in (self.root, self.pids_dir, self.logs_dir, self.redis_dir, self.airflow_home, self.work_dir):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # the postgres user must reach pgdata inside it

    def read_state(self) -> dict:
        return json.loads(self.state_file.read_text()) if self.state_file.is_file() else {}

    def write_state(self, state: dict) -> None:
        temp = self.state_file.with_suffix(".tmp")
        temp.write_text(json.dumps(state, indent=2, sort_keys=True))
        temp.replace(self.state_file)
