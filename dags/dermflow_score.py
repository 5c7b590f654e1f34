"""Batch scoring with Beam; runs on every new model pushed to the registry (docs/airflow.md)."""
from dermflow.orchestration.airflow_dag_factory import build_score_dag

dag = build_score_dag("dermflow_score")
