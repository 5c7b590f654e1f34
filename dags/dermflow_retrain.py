"""Retraining: the TFX training pipeline, one Airflow task per TFX node (docs/airflow.md).

The task graph is read from dermflow_retrain.graph.json, generated from the pipeline with
``python -m dermflow.tfx_runtime.pipeline_graph --write dags/dermflow_retrain.graph.json``.
"""
from pathlib import Path

from dermflow.orchestration.airflow_dag_factory import build_retrain_dag

dag = build_retrain_dag("dermflow_retrain", Path(__file__).with_name("dermflow_retrain.graph.json"))
