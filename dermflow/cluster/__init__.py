"""The local distributed mode: PostgreSQL, Redis and Airflow on Celery, on 127.0.0.1 (docs/deployment.md).

    dermflow cluster up | down | status        (make cluster-up / make cluster-down)

Public API: ``cluster_up``, ``cluster_down``, ``cluster_status``, ``start_worker``, ``stop_process``
(``dermflow.cluster.cluster_manager``) and the REST client ``dermflow.cluster.airflow_rest``.
Modules here import only the standard library, pydantic and yaml at module level: Airflow
imports ``worker_hostname`` in every task process.
"""
