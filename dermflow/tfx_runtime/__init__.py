"""TFX pipelines at run time, below any orchestrator: compile to IR, the node graph, run one node with MLMD.

    pipeline_graph    the pipeline's node graph as data (dags/dermflow_retrain.graph.json)
    node_runner       build the pipeline IR, launch one node through TFX's portable launcher, read MLMD

Used by the training pipeline's LocalDagRunner route and by the Airflow tasks (``dermflow.orchestration``).
"""
