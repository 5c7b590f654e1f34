"""``airflow dags test`` of both DAGs, on SQLite with a throwaway AIRFLOW_HOME and a tiny synthetic archive.

The retraining DAG runs the real TFX pipeline one task per node and pushes a model (which
emits the registry asset event); the scoring DAG then scores the archive's images into
Parquet. A bad data root fails the ingest task at once with a message that names it.
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e


def test_a_bad_data_root_fails_the_ingest_task_at_once_with_a_clear_message(home):
    missing = home.root / "no-such-archive"
    # The other root tasks do not read the archive: mark them done to keep the test short.
    result = home.dags_test("dermflow_retrain", {"data_root": str(missing)}, "--mark-success-pattern",
                            "^(ImportSchemaGen|LatestBlessedModelResolver|LatestExamplesResolver)$")
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
    from dermflow.pipelines.training.training_pipeline import NODE_IDS

    assert set(states.values()) == {"success"} and len(states) == len(NODE_IDS) + 1  # the TFX nodes and the head task
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
    assert predictions.num_rows == len(list(images.iterdir())) == home.n_images
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
