"""Retraining: the TFX training pipeline, one Airflow task per TFX node (docs/airflow.md).

The task graph is read from dermflow_retrain.graph.json, generated from the pipeline with
``python -m dermflow.tfx_runtime.pipeline_graph --write dags/dermflow_retrain.graph.json``.
"""
from pathlib import Path

from dermflow.runtime_environment import apply_runtime_environment

apply_runtime_environment(airflow=False)  # KERAS_HOME etc. for the tasks run in this process (Airflow has read its home already)

from dermflow.orchestration.airflow_dag_factory import build_retrain_dag  # noqa: E402

dag = build_retrain_dag("dermflow_retrain", Path(__file__).with_name("dermflow_retrain.graph.json"))
