"""The distributed mode for real: ``cluster up``, DAG runs triggered through the REST API and run by
the scheduler on Celery workers, a worker killed mid-shard, ``cluster down``.

One cluster for the module (Postgres and Redis are installed from Debian first when missing, as on
a fresh CI machine). Its state lives in ``var/e2e-cluster`` (the ``postgres`` user must reach the
data dir, which pytest's private temp dirs do not allow) and is removed at the end.
"""
from __future__ import annotations

import collections
import shutil
import signal
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from dermflow.cluster.airflow_rest import AirflowRest
from dermflow.cluster.cluster_manager import (
    REPO_ROOT, cluster_down, cluster_up, layout_of, running_processes, start_worker, stop_process,
)
from dermflow.cluster.managed_process import session_alive, port_open, read_pid
from dermflow.cluster.worker_hostname import worker_of
from dermflow.config import load_config

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

N_IMAGES = 60
IMAGE_SIZE = 48
BAD_FILES = {"notes.jpg": b"not an image at all", "empty.jpg": b""}
RUN_TIMEOUT = 900
CONFIG = """\
paths: {{work_dir: {root}/work, registry: {root}/registry}}
model: {{image_size: {size}, alpha: 0.35, weights: none}}
train: {{batch_size: 16, head_epochs: 1, fine_tune_epochs: 0, augment: false}}
eval: {{min_balanced_accuracy: 0.0, max_regression: 1.0}}
beam: {{direct_running_mode: in_memory, direct_num_workers: 1}}
score: {{min_batch_size: 16, max_batch_size: 16, heatmap_png_size: 32, gallery_size: 4}}
airflow: {{schedule: null, score_output: {root}/scores, retries: 2, retry_delay_seconds: 2, retry_backoff: 0}}
cluster: {{state_dir: {state}, task_heartbeat_timeout_seconds: 20}}
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    from dermflow.synthetic.archive_writer import write_archive

    root = tmp_path_factory.mktemp("cluster-e2e")
    write_archive(root / "archive", n=N_IMAGES, seed=2, image_size=IMAGE_SIZE)
    for name, data in BAD_FILES.items():
        (root / "archive" / "ISIC_2019_Training_Input" / name).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def cfg(root):
    state = REPO_ROOT / "var" / "e2e-cluster"
    shutil.rmtree(state, ignore_errors=True)
    (root / "dermflow.yaml").write_text(CONFIG.format(root=root, size=IMAGE_SIZE, state=state))
    cfg = load_config(root / "dermflow.yaml")
    cluster_up(cfg)
    yield cfg
    cluster_down(cfg, check=False)
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def api(cfg) -> AirflowRest:
    api = AirflowRest.for_cluster(cfg)
    for dag_id in ("dermflow_retrain", "dermflow_score"):
        api.wait_for_dag(dag_id, timeout=180)
        api.unpause(dag_id)
    return api


def _images(root: Path) -> Path:
    return root / "archive" / "ISIC_2019_Training_Input"


def _workers(api, dag_id, run_id) -> dict[str, tuple[str | None, str]]:
    return {f"{ti['task_id']}[{ti['map_index']}]": (worker_of(ti["hostname"]), ti["queue"])
            for ti in api.task_instances(dag_id, run_id)}


@pytest.fixture(scope="module")
def retrain_run(api, root) -> str:
    run_id = api.trigger("dermflow_retrain", {"data_root": str(root / "archive")})
    api.wait_for_run("dermflow_retrain", run_id, RUN_TIMEOUT)
    return run_id


def _score(api, root, output: str, on_poll=None) -> str:
    conf = {"input": [str(_images(root))], "output": str(root / output), "model": str(root / "registry"), "shards": 2}
    run_id = api.trigger("dermflow_score", conf)
    api.wait_for_run("dermflow_score", run_id, RUN_TIMEOUT, on_poll=on_poll)
    return run_id


def _predictions(root: Path, output: str):
    return ds.dataset(root / output / "predictions", format="parquet", partitioning="hive").to_table().to_pydict()


def test_retraining_runs_the_trainer_on_the_gpu_worker_and_the_rest_on_default(api, retrain_run, root):
    workers = _workers(api, "dermflow_retrain", retrain_run)
    assert workers.pop("Trainer[-1]") == ("gpu-1", "gpu")
    assert len(workers) == 8
    assert set(workers.values()) == {("default-1", "default")}
    assert list((root / "registry").glob("*/LATEST"))


def test_two_shards_score_every_image_once_into_one_dataset(api, retrain_run, root):
    run_id = _score(api, root, "scores")
    workers = _workers(api, "dermflow_score", run_id)
    assert set(workers) == {"list_shards[-1]", "score[0]", "score[1]", "reconcile[-1]"}
    assert set(workers.values()) == {("default-1", "default")}
    rows = _predictions(root, "scores")
    assert len(rows["path"]) == N_IMAGES
    assert len(set(rows["path"])) == N_IMAGES
    assert len(list((root / "scores" / "predictions").rglob("*shard-00000-of-00002*.parquet"))) >= 1
    assert len(list((root / "scores" / "predictions").rglob("*shard-00001-of-00002*.parquet"))) >= 1
    errors = ds.dataset(root / "scores" / "errors", format="parquet", partitioning="hive").to_table().to_pydict()
    assert sorted(errors["path"]) == sorted(BAD_FILES)


def test_a_worker_killed_mid_shard_is_recovered_with_one_row_per_image(api, cfg, retrain_run, root):
    killed: dict = {"seen_at": None}

    def kill_once_a_shard_runs(run):
        if "map_index" in killed or run["state"] != "running":
            return
        running = [ti for ti in api.task_instances("dermflow_score", run["dag_run_id"])
                   if ti["task_id"] == "score" and ti["state"] == "running"]
        if not running:
            killed["seen_at"] = None
        elif killed["seen_at"] is None:
            killed["seen_at"] = time.monotonic()
        elif time.monotonic() - killed["seen_at"] > 8:  # the shard's Beam job is under way
            stop_process(cfg, "default-1", signal.SIGKILL)  # the worker, its task and the Beam job: a dead machine
            killed["map_index"] = running[0]["map_index"]
            start_worker(cfg, "default-1")

    run_id = _score(api, root, "scores-killed", on_poll=kill_once_a_shard_runs)
    assert "map_index" in killed, "no shard was seen running, so no worker was killed"
    tries = {ti["map_index"]: ti["try_number"] for ti in api.task_instances("dermflow_score", run_id) if ti["task_id"] == "score"}
    assert tries[killed["map_index"]] >= 2
    rows = _predictions(root, "scores-killed")
    assert collections.Counter(rows["path"]) == collections.Counter(
        p.name for p in _images(root).glob("*.jpg") if p.name not in BAD_FILES
    )


def test_cluster_down_leaves_no_process_and_no_open_port(cfg, api):
    layout = layout_of(cfg)
    started = layout.read_state()["started"]
    pids = {name: read_pid(layout.pid_file(name)) for name in started}
    ports = layout.read_state()["ports"]
    assert {"postgres", "redis", "api-server", "scheduler", "dag-processor", "default-1", "gpu-1"} <= set(started)
    assert all(port_open(port) for port in ports.values())

    report = cluster_down(cfg)

    assert report["left_running"] == [] and report["open_ports"] == {}
    assert not running_processes(layout)
    assert [name for name, pid in pids.items() if session_alive(pid)] == []
    assert [port for port in ports.values() if port_open(port)] == []
