"""Batch scoring with Beam; runs on every new model pushed to the registry (docs/airflow.md)."""
from dermflow.runtime_environment import apply_runtime_environment

apply_runtime_environment(airflow=False)  # KERAS_HOME etc. for the tasks run in this process (Airflow has read its home already)

from dermflow.orchestration.airflow_dag_factory import build_score_dag  # noqa: E402

dag = build_score_dag("dermflow_score")
