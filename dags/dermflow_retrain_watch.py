"""Watches for new training data hourly and emits the asset event that starts dermflow_retrain (docs/airflow.md)."""
from dermflow.runtime_environment import apply_runtime_environment

apply_runtime_environment(airflow=False)  # KERAS_HOME etc. for the tasks run in this process (Airflow has read its home already)

from dermflow.orchestration.airflow_dag_factory import build_watch_dag  # noqa: E402

dag = build_watch_dag("dermflow_retrain_watch")
