"""TFX pipeline -> Airflow 3 tasks: one task per TFX node, run by TFX's portable launcher.

Only the standard library and Airflow are imported at module level in ``pipeline_graph``
and ``airflow_dag_factory``, so DAG files that use them parse without TensorFlow or TFX.
"""
