"""The Airflow home the DAG tests share: SQLite, a throwaway AIRFLOW_HOME, a tiny synthetic archive.

One for the whole session, so that the continuous-training tests (test_retrain_triggers_run.py) start
from the model test_dags_run.py trained, as a data engineer's second week starts from the first's.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dermflow.config import load_config

REPO_ROOT = Path(__file__).resolve().parents[3]
AIRFLOW = Path(sys.executable).with_name("airflow")
N_IMAGES = 80
IMAGE_SIZE = 48

CONFIG = """\
paths: {{work_dir: {root}/work, registry: {root}/registry}}
review: {{database_url: "sqlite:///{root}/review.sqlite"}}
retrain: {{min_new_verdicts: 20, source_roots: ["{root}/inputs"], reviewed_slice_fraction: 0.25}}
model: {{image_size: {size}, alpha: 0.35, weights: none}}
train: {{batch_size: 16, head_epochs: 1, fine_tune_epochs: 1, fine_tune_layers: 5}}
eval: {{min_balanced_accuracy: 0.0, max_regression: 1.0, max_artefact_flip_rate: null, artefact_check_images: 8}}
beam: {{direct_running_mode: in_memory, direct_num_workers: 1}}
score: {{heatmap_png_size: 32, gallery_size: 4}}
airflow: {{score_output: {root}/scores}}
drift: {{jensen_shannon: {{width: 0.5, height: 0.5}}, infinity_norm: {{format: 0.3}}, min_rows: 10, min_baseline_images: 2}}
"""
# The drift check sees only what a batch of photos changes for certain (sizes, format): the model here is
# trained for seconds on 80 images, too little for its outputs' distributions to be steady.


class AirflowHome:
    n_images = N_IMAGES  # in the archive

    def __init__(self, root: Path):
        self.root = root
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(root / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "DERMFLOW_CONFIG": str(root / "dermflow.yaml"),
            "PATH": f"{AIRFLOW.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }

    def airflow(self, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
        return subprocess.run([str(AIRFLOW), *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def dags_test(self, dag_id: str, conf: dict, *options: str) -> subprocess.CompletedProcess:
        return self.airflow("dags", "test", dag_id, "--conf", json.dumps(conf), *options)

    def task_states(self, dag_id: str) -> dict[str, str]:
        with sqlite3.connect(self.root / "airflow" / "airflow.db") as db:
            run_id = db.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
            ).fetchone()[0]
            rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
            return dict(rows.fetchall())

    def tries(self, dag_id: str, task_id: str) -> int:
        """try_number of ``task_id`` in the DAG's latest run."""
        with sqlite3.connect(self.root / "airflow" / "airflow.db") as db:
            return db.execute(
                "SELECT try_number FROM task_instance WHERE dag_id = ? AND task_id = ? "
                "AND run_id = (SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1)",
                (dag_id, task_id, dag_id),
            ).fetchone()[0]

    def asset_events(self, asset: str | None = None) -> list[dict]:
        """The extras of the recorded asset events (of ``asset`` only, when given), oldest first."""
        query = "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id"
        with sqlite3.connect(self.root / "airflow" / "airflow.db") as db:
            rows = db.execute(query + (" WHERE a.name = ?" if asset else "") + " ORDER BY e.id", (asset,) if asset else ())
            return [json.loads(extra) for (extra,) in rows]


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> AirflowHome:
    from dermflow.synthetic.archive_writer import write_archive

    root = tmp_path_factory.mktemp("airflow-e2e")
    write_archive(root / "archive", n=N_IMAGES, seed=1, image_size=IMAGE_SIZE)
    (root / "dermflow.yaml").write_text(CONFIG.format(root=root, size=IMAGE_SIZE))
    load_config(root / "dermflow.yaml")  # a bad test config should fail here, not as a DAG import error
    home = AirflowHome(root)
    migrate = home.airflow("db", "migrate")
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    return home


