"""The distributed mode for real: ``cluster up``, DAG runs triggered through the REST API and run by
the scheduler on Celery workers, ML Metadata on the cluster's MariaDB, a cleared Trainer task, a
worker killed mid-shard, verdicts recorded and exported on the cluster's PostgreSQL, the watcher's
asset event starting a retraining through the scheduler, the MLMD and review passwords found nowhere
they must not be, ``cluster down``.

One cluster for the module (Postgres, Redis and MariaDB are installed from Debian first when
missing, as on a fresh CI machine). Its state lives in ``var/e2e-cluster`` (the ``postgres`` user must reach the
data dir, which pytest's private temp dirs do not allow) and is removed at the end.
"""
from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.dataset as ds
import pytest
import yaml

from dermflow.cluster.airflow_rest import AirflowRest
from dermflow.cluster.cluster_manager import (
    REPO_ROOT, cluster_down, cluster_up, layout_of, running_processes, start_worker, stop_process,
)
from dermflow.cluster import mariadb_server
from dermflow.cluster.cluster_secrets import read_secrets
from dermflow.cluster.debian_packages import mariadb_binary, postgres_bindir
from dermflow.cluster.managed_process import session_alive, port_open, read_pid
from dermflow.cluster.worker_hostname import worker_of
from dermflow.config import DermflowConfig, load_config
from dermflow.review.review_database import PASSWORD_KEY as REVIEW_PASSWORD_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

N_IMAGES = 60
IMAGE_SIZE = 48
BAD_FILES = {"notes.jpg": b"not an image at all", "empty.jpg": b""}
RUN_TIMEOUT = 900
CONFIG = """\
paths: {{work_dir: {root}/work, registry: {root}/registry}}
model: {{image_size: {size}, alpha: 0.35, weights: none}}
train: {{batch_size: 16, head_epochs: 1, fine_tune_epochs: 0, augment: false}}
eval: {{min_balanced_accuracy: 0.0, max_regression: 1.0, max_artefact_flip_rate: null, artefact_check_images: 8}}
beam: {{direct_running_mode: in_memory, direct_num_workers: 1}}
score: {{min_batch_size: 16, max_batch_size: 16, heatmap_png_size: 32, gallery_size: 4}}
airflow: {{schedule: null, score_output: {root}/scores, retries: 2, retry_delay_seconds: 2, retry_backoff: 0}}
cluster: {{state_dir: {state}, task_heartbeat_timeout_seconds: 20}}
data: {{data_root: {root}/archive}}
retrain: {{min_new_verdicts: 20, min_interval_hours: 0, source_roots: ["{root}/archive/ISIC_2019_Training_Input"],
          watch_schedule: null}}
drift: {{min_rows: 1000}}
"""
# data.data_root: an asset-triggered retraining has no DAG param, it reads the config's (as a deployment would).
# retrain.watch_schedule null: the watcher runs when the test triggers it, not also for its last hourly interval.
# drift.min_rows above N_IMAGES: a run of this cluster is never judged (a model trained for seconds on 60 images has no
# steady outputs to drift from; the drift check's own e2e tests are tests/e2e/pipelines/test_scoring_drift.py and the DAG's).


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
    if not os.environ.get("DERMFLOW_KEEP_E2E_CLUSTER"):  # set it to read the task logs of a failed run afterwards
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
    from dermflow.pipelines.training.training_pipeline import NODE_IDS

    assert len(workers) == len(NODE_IDS)  # the head task (prepare_training_data) and the other TFX nodes
    assert set(workers.values()) == {("default-1", "default")}
    assert list((root / "registry").glob("*/LATEST"))


def _mlmd_store(cfg):
    from ml_metadata.metadata_store import metadata_store

    layout = layout_of(cfg)
    port = layout.read_state()["ports"]["mariadb"]
    password = read_secrets(layout.secrets_file)["MLMD_PASSWORD"]
    return metadata_store.MetadataStore(mariadb_server.connection_config(port, password))


def _run_executions(store, retrain_run) -> dict[str, list]:
    """TFX node id -> its executions in the TFX pipeline run of this Airflow run."""
    from dermflow.tfx_runtime.node_runner import tfx_run_id

    [context] = [c for c in store.get_contexts_by_type("pipeline_run") if c.name == tfx_run_id(retrain_run)]
    types = {t.id: t.name for t in store.get_execution_types()}
    nodes: dict[str, list] = collections.defaultdict(list)
    for execution in store.get_executions_by_context(context.id):
        nodes[types[execution.type_id].rsplit(".", 1)[-1]].append(execution)
    return nodes


def test_ml_metadata_is_on_mariadb_with_the_trainer_and_every_artifact_and_no_sqlite(api, cfg, retrain_run, root):
    from ml_metadata.proto import metadata_store_pb2

    layout = layout_of(cfg)
    effective = DermflowConfig.model_validate(yaml.safe_load(layout.config_file.read_text()))
    url = urlparse(effective.paths.metadata_connection)
    assert (url.scheme, url.hostname, url.port) == ("mysql", "127.0.0.1", layout.read_state()["ports"]["mariadb"])
    store = _mlmd_store(cfg)
    trainer = api.xcom("dermflow_retrain", retrain_run, "Trainer")
    [execution] = store.get_executions_by_id([trainer["execution_id"]])
    assert execution.last_known_state == metadata_store_pb2.Execution.COMPLETE
    assert "Trainer" in _run_executions(store, retrain_run)
    reported = {artifact["id"]: artifact["uri"]
                for ti in api.task_instances("dermflow_retrain", retrain_run) if ti["state"] == "success"
                for artifacts in api.xcom("dermflow_retrain", retrain_run, ti["task_id"]).get("outputs", {}).values()
                for artifact in artifacts}
    assert len(reported) >= 9  # examples, statistics, schema, anomalies, model, model_run, evaluation, blessing, pushed model...
    stored = {artifact.id: artifact.uri for artifact in store.get_artifacts_by_id(list(reported))}
    assert stored == reported
    assert set(trainer["outputs"]) == {"model", "model_run"}
    sqlite = [p for folder in (root, layout.root) for p in folder.rglob("*.sqlite*")]
    assert sqlite == [] and not effective.paths.resolved_metadata_path().exists()


def test_a_cleared_trainer_task_reuses_its_complete_execution(api, cfg, retrain_run):
    first = api.xcom("dermflow_retrain", retrain_run, "Trainer")
    api.clear_task("dermflow_retrain", retrain_run, "Trainer")
    api.wait_for_run("dermflow_retrain", retrain_run, RUN_TIMEOUT)
    [trainer] = [ti for ti in api.task_instances("dermflow_retrain", retrain_run) if ti["task_id"] == "Trainer"]
    assert trainer["try_number"] >= 2 and trainer["state"] == "success"
    again = api.xcom("dermflow_retrain", retrain_run, "Trainer")
    assert again["reused"] is True and first["reused"] is False
    assert again["execution_id"] == first["execution_id"]
    assert [e.id for e in _run_executions(_mlmd_store(cfg), retrain_run)["Trainer"]] == [first["execution_id"]]


def test_two_shards_score_every_image_once_into_one_dataset(api, retrain_run, root):
    run_id = _score(api, root, "scores")
    workers = _workers(api, "dermflow_score", run_id)
    assert set(workers) == {"list_shards[-1]", "score[0]", "score[1]", "reconcile[-1]", "check_drift[-1]",
                            "drift_detected[-1]"}
    skipped = workers.pop("drift_detected[-1]")  # too few images to judge: skipped, on no worker
    assert set(workers.values()) == {("default-1", "default")} and skipped[0] is None
    rows = _predictions(root, "scores")
    assert len(rows["path"]) == N_IMAGES
    assert len(set(rows["path"])) == N_IMAGES
    assert len(list((root / "scores" / "predictions").rglob("*shard-00000-of-00002*.parquet"))) >= 1
    assert len(list((root / "scores" / "predictions").rglob("*shard-00001-of-00002*.parquet"))) >= 1
    errors = ds.dataset(root / "scores" / "errors", format="parquet", partitioning="hive").to_table().to_pydict()
    assert sorted(errors["path"]) == sorted(BAD_FILES)


def _kill_the_worker_once_a_shard_job_runs(cfg, output: Path, killed: dict, stop: threading.Event) -> None:
    """Watches for a shard's staging heartbeat, which its scoring run writes just before the Beam job
    starts, then SIGKILLs the worker: a dead machine mid-shard. Polls the filesystem, not the REST
    API, so a shard that finishes in a few seconds is still caught."""
    while not stop.is_set():
        beating = sorted(output.glob("_staging/*/shard-*/heartbeat"))
        if beating:
            stop_process(cfg, "default-1", signal.SIGKILL)  # the worker, its task and the Beam job
            killed["map_index"] = int(beating[0].parent.name.split("-")[1])
            start_worker(cfg, "default-1")
            return
        stop.wait(0.1)


def test_a_worker_killed_mid_shard_is_recovered_with_one_row_per_image(api, cfg, retrain_run, root):
    killed: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_kill_the_worker_once_a_shard_job_runs,
                               args=(cfg, root / "scores-killed", killed, stop), daemon=True)
    watcher.start()
    try:
        run_id = _score(api, root, "scores-killed")
    finally:
        stop.set()
        watcher.join()
    assert "map_index" in killed, "no shard's job was seen running, so no worker was killed"
    tries = {ti["map_index"]: ti["try_number"] for ti in api.task_instances("dermflow_score", run_id) if ti["task_id"] == "score"}
    assert tries[killed["map_index"]] >= 2
    rows = _predictions(root, "scores-killed")
    assert collections.Counter(rows["path"]) == collections.Counter(
        p.name for p in _images(root).glob("*.jpg") if p.name not in BAD_FILES
    )
    assert not (root / "scores-killed" / "_staging").exists() or not any((root / "scores-killed" / "_staging").iterdir())


def _effective(cfg) -> DermflowConfig:
    return DermflowConfig.model_validate(yaml.safe_load(layout_of(cfg).config_file.read_text()))


def _dermflow_cli(cfg, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """A `dermflow` command as an operator runs it on the cluster: with the cluster's config."""
    done = subprocess.run([sys.executable, "-m", "dermflow.cli", *args, "--config", str(layout_of(cfg).config_file)],
                          input=stdin, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    return done


def _record_verdicts_on_the_scored_images(effective: DermflowConfig, predictions: dict) -> int:
    """8 threads record one verdict per scored image through the store, each with the row it was shown."""
    from dermflow.review import ShownPrediction, open_configured_review_database, record_verdict

    db = open_configured_review_database(effective.review)
    rows = [dict(zip(predictions, values)) for values in zip(*predictions.values())]
    errors = []

    def record(part: list[dict]) -> None:
        try:
            for row in part:
                shown = ShownPrediction(row["model_name"], str(row["model_version"]), row["predicted_label"],
                                        dict(row["probabilities"]), row["out_of_scope"], row["run_id"])
                record_verdict(db, reviewer="clinician", sha256=row["sha256"], diagnosis=row["predicted_label"],
                               basis="histopathology", shown=shown, image_path=row["path"], comment="Jane Roe, 1950",
                               queue_reason="direct")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(rows[k::8],)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.close()
    assert errors == []
    return len(rows)


def test_verdicts_are_recorded_on_the_clusters_postgres_and_exported(cfg, api, retrain_run, root):
    import duckdb

    layout = layout_of(cfg)
    effective = _effective(cfg)
    url = urlparse(effective.review.database_url)
    assert (url.scheme, url.hostname, url.port, url.username, url.password) == (
        "postgresql+psycopg2", "127.0.0.1", layout.read_state()["ports"]["postgres"], "review", None)
    assert effective.review.password_file == layout.secrets_file
    if not (root / "scores" / "predictions").is_dir():
        _score(api, root, "scores")
    added = _dermflow_cli(cfg, "users", "add", "clinician", "--role", "reviewer", "--password-stdin",
                          stdin="clinician password\n")
    assert added.stdout == "users: added clinician (reviewer)\n"
    recorded = _record_verdicts_on_the_scored_images(effective, _predictions(root, "scores"))
    assert recorded == N_IMAGES
    listed = _dermflow_cli(cfg, "verdicts", "list", "--limit", "0")
    assert len(listed.stdout.splitlines()) == N_IMAGES and "Jane Roe" not in listed.stdout
    exported = _dermflow_cli(cfg, "verdicts", "export", "--output", str(root / "verdicts-export"))
    assert f"exported {N_IMAGES} verdict(s) on {N_IMAGES} image(s)" in exported.stdout
    joined = duckdb.sql(f"""
        SELECT v.diagnosis = p.predicted_label AS agrees, v.model_version = p.model_version AS same_version
        FROM read_parquet('{root}/verdicts-export/verdicts/**/*.parquet', hive_partitioning = true) AS v
        JOIN read_parquet('{root}/scores/predictions/**/*.parquet', hive_partitioning = true) AS p USING (sha256)
    """).fetchall()
    assert len(joined) == N_IMAGES and all(agrees and same for agrees, same in joined)
    performance = json.loads(_dermflow_cli(cfg, "verdicts", "performance", "--json").stdout)
    assert [(f["group"], f["n"], f["balanced_accuracy"]) for f in performance] == [("all", N_IMAGES, 1.0),
                                                                                     ("other", N_IMAGES, 1.0)]


def test_the_watchers_event_makes_the_scheduler_start_a_retraining_that_ingests_the_reviewed_cases(cfg, api, root):
    """After the 60 verdicts above: the watcher emits the training-data event, the scheduler starts an
    asset-triggered retraining; its reviewed span holds the 60 cases, all of them archive images already
    ingested, so they are duplicates, and the model is warm-started and pushed."""
    before = {run["dag_run_id"] for run in api.runs("dermflow_retrain")}
    api.wait_for_dag("dermflow_retrain_watch", timeout=180)
    watch_run = api.trigger("dermflow_retrain_watch", {})
    api.unpause("dermflow_retrain_watch")
    api.wait_for_run("dermflow_retrain_watch", watch_run, RUN_TIMEOUT)
    assert f"{N_IMAGES} new verdict(s)" in api.xcom("dermflow_retrain_watch", watch_run, "watch_training_data")["reason"]
    deadline = time.monotonic() + 300
    while not (started := [r for r in api.runs("dermflow_retrain", "asset_triggered") if r["dag_run_id"] not in before]):
        assert time.monotonic() < deadline, "the scheduler started no retraining from the asset event"
        time.sleep(3)
    run = started[0]
    api.wait_for_run("dermflow_retrain", run["dag_run_id"], RUN_TIMEOUT)
    head = api.xcom("dermflow_retrain", run["dag_run_id"], "prepare_training_data")
    assert head["run_type"] == "asset_triggered" and f"an asset event: {N_IMAGES} new verdict(s)" in head["started_by"]
    assert head["reviewed_span"]["images"] == N_IMAGES and head["reviewed_span"]["unavailable"] == 0
    ingest = api.xcom("dermflow_retrain", run["dag_run_id"], "IsicExampleGen")
    [report_uri] = [a["uri"] for a in ingest["outputs"]["ingest_report"]]
    report = json.loads((Path(report_uri) / "report.json").read_text())
    assert [(s["name"], s["action"], s["duplicates"]) for s in report["spans"]] == [("base", "reuse", 0),
                                                                                     ("reviewed", "ingest", N_IMAGES)]


def _database_dumps(cfg) -> dict[str, bytes]:
    """Every row of ML Metadata (mariadb-dump) and of Airflow's DB (pg_dump: XComs, DAG run conf, rendered fields)."""
    layout = layout_of(cfg)
    ports, secrets = layout.read_state()["ports"], read_secrets(layout.secrets_file)
    mlmd = subprocess.run(
        [str(mariadb_binary("mariadb-dump")), "--protocol=tcp", "-h127.0.0.1", f"-P{ports['mariadb']}",
         f"-u{mariadb_server.USER}", "--skip-extended-insert", mariadb_server.DATABASE],
        env={**os.environ, "MYSQL_PWD": secrets["MLMD_PASSWORD"]}, capture_output=True, check=True,
    ).stdout
    airflow = subprocess.run(
        [str(postgres_bindir() / "pg_dump"), "-h", "127.0.0.1", "-p", str(ports["postgres"]), "-U", "airflow", "airflow"],
        env={**os.environ, "PGPASSWORD": secrets["AIRFLOW_DB_PASSWORD"]}, capture_output=True, check=True,
    ).stdout
    review = subprocess.run(
        [str(postgres_bindir() / "pg_dump"), "-h", "127.0.0.1", "-p", str(ports["postgres"]), "-U", "review", "review"],
        env={**os.environ, "PGPASSWORD": secrets[REVIEW_PASSWORD_KEY]}, capture_output=True, check=True,
    ).stdout
    return {"mlmd": mlmd, "airflow": airflow, "review": review}


@pytest.mark.parametrize("secret", ["MLMD_PASSWORD", REVIEW_PASSWORD_KEY])
def test_the_mlmd_and_review_passwords_are_in_no_config_database_row_registry_file_or_log(cfg, api, retrain_run, root,
                                                                                          secret):
    layout = layout_of(cfg)
    password = read_secrets(layout.secrets_file)[secret].encode()
    effective = DermflowConfig.model_validate(yaml.safe_load(layout.config_file.read_text()))
    assert password not in effective.to_json().encode()
    dumps = _database_dumps(cfg)
    assert b"CREATE TABLE `Execution`" in dumps["mlmd"] and b"Trainer" in dumps["mlmd"]  # the dump holds the rows
    assert b"INSERT INTO `Artifact` VALUES" in dumps["mlmd"]
    assert b"xcom" in dumps["airflow"]
    assert b"CREATE TABLE public.verdicts" in dumps["review"]
    assert [name for name, dump in dumps.items() if password in dump] == []
    # Every file the cluster and its runs wrote but the server's own data: the config, the registry
    # (config.json, provenance.json), the pipeline root, the scores, every service and task log.
    own_data = (layout.secrets_file, layout.mariadb_dir, layout.pgdata)
    files = [p for folder in (root, layout.root) for p in folder.rglob("*")
             if p.is_file() and not any(p == d or d in p.parents for d in own_data)]
    assert any(p.name == "provenance.json" for p in files) and any(p.name == "config.json" for p in files)
    assert any(p.parent == layout.logs_dir for p in files) and any(p.suffix == ".log" and "dag_id=" in str(p) for p in files)
    assert [str(p) for p in files if password in p.read_bytes()] == []


def test_cluster_down_leaves_no_process_and_no_open_port(cfg, api):
    layout = layout_of(cfg)
    started = layout.read_state()["started"]
    pids = {name: read_pid(layout.pid_file(name)) for name in started}
    ports = layout.read_state()["ports"]
    assert {"postgres", "redis", "mariadb", "api-server", "scheduler", "dag-processor", "default-1", "gpu-1"} <= set(started)
    assert "mariadb" in ports
    assert all(port_open(port) for port in ports.values())

    report = cluster_down(cfg)

    assert report["left_running"] == [] and report["open_ports"] == {}
    assert not running_processes(layout)
    assert [name for name, pid in pids.items() if session_alive(pid)] == []
    assert [port for port in ports.values() if port_open(port)] == []
    mariadb_left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline_has(pid, str(layout.mariadb_dir))]
    assert mariadb_left == []


def _cmdline_has(pid: str, text: str) -> bool:
    try:
        return text.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
