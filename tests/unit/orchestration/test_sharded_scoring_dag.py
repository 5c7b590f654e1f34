from pathlib import Path

from dermflow.orchestration.airflow_dag_factory import build_score_dag
from dermflow.orchestration.sharded_scoring_tasks import shard_command


def _dag(tmp_path: Path, yaml: str = ""):
    config = tmp_path / "c.yaml"
    config.write_text(yaml or "airflow: {score_shards: 3, retries: 4}\n")
    return build_score_dag("score_test", config_path=config)


def test_list_then_one_mapped_score_task_per_shard_then_reconcile_then_one_drift_check(tmp_path):
    dag = _dag(tmp_path)
    assert set(dag.task_ids) == {"list_shards", "score", "reconcile", "check_drift", "drift_detected"}
    assert dag.get_task("list_shards").downstream_task_ids == {"score"}
    assert dag.get_task("score").downstream_task_ids == {"reconcile"}
    assert type(dag.get_task("score")).__name__ == "MappedOperator"
    assert dag.get_task("reconcile").downstream_task_ids == {"check_drift"}
    assert dag.get_task("check_drift").downstream_task_ids == {"drift_detected"}
    assert type(dag.get_task("check_drift")).__name__ == "BranchPythonOperator"


def test_shard_count_param_defaults_to_the_config(tmp_path):
    assert _dag(tmp_path).params["shards"] == 3
    assert _dag(tmp_path, "airflow: {retries: 1}\n").params["shards"] == 1


def test_shards_retry_but_reconciliation_fails_at_once(tmp_path):
    dag = _dag(tmp_path)
    assert dag.get_task("score").partial_kwargs["retries"] == 4
    assert dag.get_task("reconcile").retries == 0
    assert {dag.get_task(t).queue for t in ("list_shards", "reconcile")} == {"default"}


def test_shard_command_scores_exactly_the_manifest_under_the_runs_id():
    command = shard_command("/w/shard-00001-of-00002.json", "shard-00001-of-00002", "/reg/m/v1", "/out", "run_1", "c.yaml")
    assert command[1:4] == ["-m", "dermflow.cli", "score"]
    args = dict(zip(command[4::2], command[5::2]))
    assert args == {"--files-from": "/w/shard-00001-of-00002.json", "--shard": "shard-00001-of-00002",
                    "--model": "/reg/m/v1", "--output": "/out", "--run-id": "run_1", "--config": "c.yaml"}
