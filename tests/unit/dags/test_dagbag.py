"""The DAG files parse fast, without TensorFlow or TFX, into the DAGs the issue describes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
DAGS = REPO_ROOT / "dags"

# Run in a fresh interpreter: this test process may already have imported TensorFlow.
PARSE_SCRIPT = r"""
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
times = {}
for name in sys.argv[1:]:
    start = time.perf_counter()
    bag = DagBag(dag_folder=name)
    times[name] = time.perf_counter() - start
    assert not bag.import_errors, bag.import_errors
print(json.dumps({"seconds": times, "heavy": sorted(m for m in ("tensorflow", "tfx", "apache_beam") if m in sys.modules)}))
"""


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_dagbag_loads_both_dags_without_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"dermflow_retrain", "dermflow_score", "dermflow_retrain_watch"} <= set(dagbag.dags)


def test_each_dag_file_parses_fast_without_tensorflow_or_tfx(tmp_path):
    files = [str(DAGS / "dermflow_retrain.py"), str(DAGS / "dermflow_score.py"), str(DAGS / "dermflow_retrain_watch.py")]
    result = subprocess.run([sys.executable, "-c", PARSE_SCRIPT, *files], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    for name, seconds in report["seconds"].items():
        assert seconds < 5.0, f"{name} took {seconds:.2f} s to parse"  # measured ~0.1 s; see docs/airflow.md


def test_trainer_goes_to_the_gpu_queue_and_pool_and_others_do_not(dagbag):
    from dermflow.config import load_config

    cfg = load_config()
    dag = dagbag.dags["dermflow_retrain"]
    trainer = dag.get_task("Trainer")
    assert (trainer.queue, trainer.pool) == (cfg.airflow.gpu_queue, cfg.airflow.gpu_pool)
    others = {t.queue for t in dag.tasks if t.task_id != "Trainer"}
    assert others == {cfg.airflow.default_queue}


def test_retrain_dag_schedule_catchup_and_retries(dagbag):
    from airflow.sdk import AssetOrTimeSchedule

    dag = dagbag.dags["dermflow_retrain"]
    assert dag.catchup is False
    assert isinstance(dag.schedule, AssetOrTimeSchedule)  # airflow.schedule (@weekly) or the training-data asset
    assert dag.schedule.timetable.expression == "0 0 * * 0"
    assert [asset.name for asset in dag.schedule.asset_condition.objects] == ["dermflow-training-data-dermflow"]
    assert all(t.retries == 2 and t.retry_exponential_backoff > 0 for t in dag.tasks)


def test_the_watcher_is_hourly_and_its_one_task_emits_the_asset_the_retraining_waits_for(dagbag):
    watch, retrain = dagbag.dags["dermflow_retrain_watch"], dagbag.dags["dermflow_retrain"]
    assert watch.schedule == "@hourly" and watch.catchup is False
    [task] = watch.tasks
    assert [asset.name for asset in task.outlets] == [asset.name for asset in retrain.schedule.asset_condition.objects]


def test_the_head_task_runs_before_the_ingest_and_needs_nothing_upstream(dagbag):
    retrain = dagbag.dags["dermflow_retrain"]
    head = retrain.get_task("prepare_training_data")
    assert head.upstream_task_ids == set()
    assert "prepare_training_data" in retrain.get_task("IsicExampleGen").upstream_task_ids


def test_retrain_params_reject_a_bad_image_size_and_accept_a_good_one(dagbag):
    from airflow.sdk.definitions.param import ParamValidationError

    image_size = dagbag.dags["dermflow_retrain"].params.get_param("image_size")
    assert image_size.resolve(96) == 96
    with pytest.raises(ParamValidationError, match="32"):
        image_size.resolve(16)


def test_retrain_params_reject_unknown_isic_codes(dagbag):
    from airflow.sdk.definitions.param import ParamValidationError

    target_classes = dagbag.dags["dermflow_retrain"].params.get_param("target_classes")
    assert target_classes.resolve(["MEL", "NV"]) == ["MEL", "NV"]
    with pytest.raises(ParamValidationError, match="XYZ"):
        target_classes.resolve(["MEL", "XYZ"])


def test_only_the_pusher_emits_the_model_asset_and_scoring_listens_to_it(dagbag):
    retrain, score = dagbag.dags["dermflow_retrain"], dagbag.dags["dermflow_score"]
    emitters = [t.task_id for t in retrain.tasks if t.outlets]
    assert emitters == ["RegistryPusher"]
    assert [asset.name for asset in score.timetable.asset_condition.objects] == ["dermflow-registry-dermflow_mobilenet_v2"]
