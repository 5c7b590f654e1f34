"""The retraining DAG's tasks and dependencies are exactly the TFX pipeline's nodes and edges, after its head task."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="dermflow-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

DAGS = Path(__file__).resolve().parents[3] / "dags"


def test_retrain_dag_task_graph_equals_the_compiled_tfx_pipeline_graph():
    from airflow.dag_processing.dagbag import DagBag

    from dermflow.tfx_runtime.pipeline_graph import DEFAULT_PIPELINE_FACTORY, compile_graph, read_graph

    live = compile_graph(DEFAULT_PIPELINE_FACTORY)
    assert read_graph(DAGS / "dermflow_retrain.graph.json") == live, (
        "dags/dermflow_retrain.graph.json is stale: python -m dermflow.tfx_runtime.pipeline_graph "
        "--write dags/dermflow_retrain.graph.json"
    )
    dag = DagBag(dag_folder=str(DAGS / "dermflow_retrain.py")).dags["dermflow_retrain"]
    edges = {task.task_id: set(task.upstream_task_ids) for task in dag.tasks}
    assert edges.pop("prepare_training_data") == set()  # the head task (retrain_triggers), not a TFX node
    edges["IsicExampleGen"].remove("prepare_training_data")
    assert edges == live.edges()
