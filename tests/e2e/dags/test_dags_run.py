"""``airflow dags test`` of both DAGs, on SQLite with a throwaway AIRFLOW_HOME and a tiny synthetic archive.

The retraining DAG runs the real TFX pipeline one task per node and pushes a model (which
emits the registry asset event); the scoring DAG then scores the archive's images into
Parquet. A bad data root fails the ingest task at once with a message that names it.
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

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[3]
AIRFLOW = Path(sys.executable).with_name("airflow")
N_IMAGES = 80
IMAGE_SIZE = 48

CONFIG = """\
paths: {{work_dir: {root}/work, registry: {root}/registry}}
model: {{image_size: {size}, alpha: 0.35, weights: none}}
train: {{batch_size: 16, head_epochs: 1, fine_tune_epochs: 1, fine_tune_layers: 5}}
eval: {{min_balanced_accuracy: 0.0, max_regression: 1.0, max_artefact_flip_rate: null, artefact_check_images: 8}}
beam: {{direct_running_mode: in_memory, direct_num_workers: 1}}
score: {{heatmap_png_size: 32, gallery_size: 4}}
airflow: {{score_output: {root}/scores}}
drift: {{jensen_shannon: {{width: 0.5, height: 0.5}}, infinity_norm: {{format: 0.3}}, min_rows: 10}}
"""
# The drift check sees only what a batch of photos changes for certain (sizes, format): the model here is
# trained for seconds on 80 images, too little for its outputs' distributions to be steady.


class AirflowHome:
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

    def airflow(self, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
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

    def asset_events(self) -> list[dict]:
        with sqlite3.connect(self.root / "airflow" / "airflow.db") as db:
            return [json.loads(extra) for (extra,) in db.execute("SELECT extra FROM asset_event")]


@pytest.fixture(scope="module")
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


def test_a_bad_data_root_fails_the_ingest_task_at_once_with_a_clear_message(home):
    missing = home.root / "no-such-archive"
    # The other root tasks do not read the archive: mark them done to keep the test short.
    result = home.dags_test(
        "dermflow_retrain", {"data_root": str(missing)}, "--mark-success-pattern", "^(ImportSchemaGen|LatestBlessedModelResolver)$"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"data root {missing} is not a folder" in output
    states = home.task_states("dermflow_retrain")
    assert states["IsicExampleGen"] == "failed"
    assert home.tries("dermflow_retrain", "IsicExampleGen") == 1  # failed at once: retrying cannot help
    assert states["ClassFilter"] == "upstream_failed" and states["RegistryPusher"] == "upstream_failed"
    assert home.asset_events() == []


def test_retraining_dag_runs_every_tfx_node_and_pushes_a_model(home):
    result = home.dags_test("dermflow_retrain", {"data_root": str(home.root / "archive")})
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    states = home.task_states("dermflow_retrain")
    assert set(states.values()) == {"success"} and len(states) == 9
    version = (home.root / "registry" / "dermflow_mobilenet_v2" / "LATEST").read_text().strip()
    version_dir = home.root / "registry" / "dermflow_mobilenet_v2" / version
    assert (version_dir / "saved_model").is_dir()
    assert (version_dir / "report" / "report.html").is_file()
    [event] = home.asset_events()
    assert event["pushed"] == 1 and event["pushed_version"] == version


def test_scoring_dag_scores_every_image_of_a_folder_into_parquet(home):
    import pyarrow.dataset as ds

    images = home.root / "archive" / "ISIC_2019_Training_Input"
    result = home.dags_test("dermflow_score", {"input": [str(images)]})
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    predictions = ds.dataset(home.root / "scores" / "predictions", format="parquet", partitioning="hive").to_table()
    assert predictions.num_rows == len(list(images.iterdir())) == N_IMAGES
    import duckdb

    scores = home.root / "scores"
    [(errors,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{scores}/errors/**/*.pq', hive_partitioning=1)").fetchall()
    assert errors == 0, "a sharded run with no bad file still publishes its (zero-row) errors partition"
    assert not (scores / "_staging").exists(), "reconcile removes _staging/<run_id>/"
    states = home.task_states("dermflow_score")
    assert (states["check_drift"], states["drift_detected"]) == ("success", "skipped")
    assert not [event for event in home.asset_events() if "drifted_features" in event]


def _photos(folder: Path) -> int:
    """Non-dermoscopy pictures (skimage's samples) at their own sizes, some PNG: what a mistaken batch looks like."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins"):
        image = Image.fromarray(getattr(data, name)())
        for side in (120, 200):
            small = image.resize((side, side * image.height // image.width))
            small.save(folder / f"{name}-{side}.{'png' if side == 120 else 'jpg'}")
            count += 1
    return count


def test_a_batch_of_photos_drifts_and_drift_detected_emits_the_drift_asset(home):
    photos = home.root / "photos"
    count = _photos(photos)
    result = home.dags_test("dermflow_score", {"input": [str(photos)], "output": str(home.root / "photo-scores")})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    states = home.task_states("dermflow_score")
    assert (states["reconcile"], states["check_drift"], states["drift_detected"]) == ("success", "success", "success")
    [event] = [event for event in home.asset_events() if "drifted_features" in event]
    assert {"width", "height", "format"} == set(event["drifted_features"])
    assert event["distances"]["format"]["distance"] > event["distances"]["format"]["threshold"] == 0.3
    assert event["output"] == str(home.root / "photo-scores") and event["audit_share"] == 0.2
    [summary] = [p for p in (home.root / "photo-scores" / "runs").glob("*.json") if "shard" not in p.name]
    run = json.loads(summary.read_text())  # the whole run's, made by check_drift; the shards' are beside it
    assert run["drift"]["drift_detected"] is True and run["drift"]["scored"] == count
    assert "DRIFT in scoring run" in output  # the default notifier's line, in the task log
