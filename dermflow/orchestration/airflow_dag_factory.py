"""Airflow 3 DAGs for dermflow: retraining (one task per TFX node) and batch scoring.

Only Airflow, the standard library and ``dermflow.config`` (pydantic + yaml) are imported
here, so DAG files that call these builders parse in well under a second without
TensorFlow or TFX. The heavy work runs inside the tasks:

* each retraining task calls ``dermflow.tfx_runtime.node_runner.run_node`` for its
  TFX node, in the TFX pipeline run named after the Airflow run;
* the scoring DAG lists and shards its inputs, then one mapped task per shard runs
  ``python -m dermflow.cli score --files-from MANIFEST`` in the same interpreter's venv,
  streaming its output into the task log, and a last task reconciles the run's Parquet.

The config file is ``config_path``, else ``$DERMFLOW_CONFIG``, else the defaults; at run time
the Airflow Variable ``dermflow_config`` (a path), when set, takes precedence. Parse-time
settings (schedule, queues, retries, assets) come from the parse-time file.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.providers.standard.operators.python import BranchPythonOperator, PythonOperator
from airflow.sdk import DAG, Asset, AssetAlias, Param

from dermflow.config import ISIC_CLASSES, ConfigError, DermflowConfig, load_config
from dermflow.tfx_runtime.pipeline_graph import PipelineGraph, read_graph
from dermflow.orchestration.task_commands import (
    parse_time_config_path, run_time_config_path,
)
from dermflow.orchestration.sharded_scoring_tasks import LIST_TASK, list_shards, reconcile, score_shard
from dermflow.orchestration import drift_tasks

log = logging.getLogger(__name__)

MODEL_PUSHED_ALIAS = "dermflow-model-pushed"
START_DATE = datetime(2025, 1, 1, tzinfo=timezone.utc)


def registry_asset(cfg: DermflowConfig) -> Asset:
    """The Airflow Asset standing for the model registry entry of ``cfg.model_name``."""
    model_dir = (Path(cfg.paths.registry) / cfg.model_name).resolve()
    return Asset(name=f"dermflow-registry-{cfg.model_name}", uri=model_dir.as_uri())


def uses_sqlite_metadata(cfg: DermflowConfig) -> bool:
    """ML Metadata on SQLite takes one writer at a time, so the retraining tasks then run one by one."""
    connection = cfg.paths.metadata_connection
    return not connection or connection.startswith("sqlite:")


def retrain_params() -> dict[str, Param]:
    """DAG params, validated by Airflow (JSON schema) before a run starts."""
    return {
        "data_root": Param(None, type=["null", "string"], minLength=1,
                           description="Folder of the ISIC-layout archive (data.data_root)."),
        "labels_preset": Param(None, type=["null", "string"], enum=[None, "mel_nv_bcc", "binary", "all8"],
                               description="Target-label preset (labels.preset)."),
        "target_classes": Param(None, type=["null", "array"], minItems=2, uniqueItems=True,
                                items={"type": "string", "enum": list(ISIC_CLASSES)},
                                description="ISIC codes to keep, each its own label (overrides labels_preset)."),
        "epochs": Param(None, type=["null", "integer"], minimum=0,
                        description="Head-training epochs (train.head_epochs)."),
        "image_size": Param(None, type=["null", "integer"], minimum=32,
                            description="Square input side in pixels (model.image_size)."),
        "overrides": Param([], type="array", items={"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*=.*$"},
                           description="Any other config keys, as key.path=value strings."),
    }


def params_to_overrides(params: dict[str, Any]) -> list[str]:
    """DAG params -> ``key.path=value`` config overrides (values JSON-quoted, which YAML reads back)."""
    overrides: list[str] = []

    def put(key: str, value: Any) -> None:
        overrides.append(f"{key}={json.dumps(value)}")

    if params.get("data_root"):
        put("data.data_root", params["data_root"])
    if params.get("labels_preset"):
        put("labels.preset", params["labels_preset"])
    if params.get("target_classes"):
        classes = list(params["target_classes"])
        put("labels.preset", "custom")
        put("labels.mode", "classes")
        put("labels.classes", classes)
        put("labels.positive_label", "MEL" if "MEL" in classes else classes[0])
    if params.get("epochs") is not None:
        put("train.head_epochs", params["epochs"])
    if params.get("image_size") is not None:
        put("model.image_size", params["image_size"])
    return overrides + list(params.get("overrides") or [])


def task_config(config_path: str | None, params: dict[str, Any]) -> DermflowConfig:
    """The run's config; a bad file, param or override fails the task at once, without retries."""
    try:
        return load_config(run_time_config_path(config_path), params_to_overrides(params))
    except ConfigError as exc:
        raise AirflowFailException(str(exc)) from exc


def check_data_root(cfg: DermflowConfig) -> None:
    """Fails at once, without retries, when the archive folder is missing: retrying cannot help."""
    root = cfg.data.data_root
    if root is None:
        raise AirflowFailException("no data root: set the 'data_root' DAG param or data.data_root in the config")
    if not Path(root).is_dir():
        raise AirflowFailException(f"data root {root} is not a folder (the 'data_root' param or data.data_root)")


def pushed_model_events(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Output artifacts of a pusher execution whose ``pushed`` custom property is set."""
    return [
        artifact["custom_properties"]
        for artifacts in summary.get("outputs", {}).values()
        for artifact in artifacts
        if artifact.get("custom_properties", {}).get("pushed")
    ]


def _run_tfx_node(
    node_id: str, pipeline_factory: str, config_path: str | None, reads_data_root: bool, emits_model: bool,
    **context: Any,
):
    from dermflow.tfx_runtime.node_runner import STATE_SKIPPED, run_node

    cfg = task_config(config_path, dict(context["params"]))
    if reads_data_root:
        check_data_root(cfg)
    summary = run_node(node_id, context["run_id"], cfg.to_json(), pipeline_factory)
    if summary["state"] == STATE_SKIPPED:
        raise AirflowSkipException(f"TFX skipped {node_id}: its inputs are not available in this run")
    if emits_model:
        pushed = pushed_model_events(summary)
        if pushed:
            extra = {k: v for k, v in pushed[0].items() if isinstance(v, (str, int, float, bool))}
            context["outlet_events"][AssetAlias(MODEL_PUSHED_ALIAS)].add(registry_asset(cfg), extra=extra)
            log.info("model pushed to the registry; asset event emitted with %s", extra)
            if extra.get("pushed_destination"):
                from dermflow.evaluation.model_report import write_run_report

                log.info("report: %s", write_run_report(str(extra["pushed_destination"])))
        else:
            log.info("no model was pushed (not blessed); no asset event, so scoring is not triggered")
    return summary


def build_retrain_dag(
    dag_id: str,
    graph_json: str | Path,
    config_path: str | Path | None = None,
    ingest_node: str = "IsicExampleGen",
    push_node: str = "RegistryPusher",
    **dag_kwargs: Any,
) -> DAG:
    """One PythonOperator per node of the TFX pipeline graph in ``graph_json``, wired as in TFX.

    ``ingest_node`` checks the data root before it starts; ``push_node`` emits the registry
    asset event when its output says a model was pushed.
    """
    path = parse_time_config_path(config_path)
    cfg = load_config(path)
    graph: PipelineGraph = read_graph(graph_json)
    airflow_cfg = cfg.airflow
    default_args = {
        "retries": airflow_cfg.retries,
        "retry_delay": timedelta(seconds=airflow_cfg.retry_delay_seconds),
        "retry_exponential_backoff": airflow_cfg.retry_backoff,
        "max_retry_delay": timedelta(seconds=airflow_cfg.max_retry_delay_seconds),
        "queue": airflow_cfg.default_queue,
    }
    settings: dict[str, Any] = {
        "schedule": airflow_cfg.schedule,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "max_active_tasks": 1 if uses_sqlite_metadata(cfg) else 16,
        "default_args": default_args,
        "params": retrain_params(),
        "tags": ["dermflow", "tfx", "training"],
        "doc_md": f"TFX pipeline `{graph.pipeline_factory}`, one task per node (see docs/airflow.md).",
    }
    settings.update(dag_kwargs)
    with DAG(dag_id, **settings) as dag:
        tasks = {}
        for node in graph.nodes:
            on_gpu = node.node_id in airflow_cfg.gpu_nodes
            emits_model = node.node_id == push_node
            tasks[node.node_id] = PythonOperator(
                task_id=node.node_id,
                python_callable=_run_tfx_node,
                op_kwargs={
                    "node_id": node.node_id,
                    "pipeline_factory": graph.pipeline_factory,
                    "config_path": str(path) if path else None,
                    "reads_data_root": node.node_id == ingest_node,
                    "emits_model": emits_model,
                },
                queue=airflow_cfg.gpu_queue if on_gpu else airflow_cfg.default_queue,
                pool=airflow_cfg.gpu_pool if on_gpu else "default_pool",
                outlets=[AssetAlias(MODEL_PUSHED_ALIAS)] if emits_model else [],
            )
            for upstream in node.upstream:
                tasks[upstream] >> tasks[node.node_id]
    return dag


def build_score_dag(dag_id: str, config_path: str | Path | None = None, **dag_kwargs: Any) -> DAG:
    """Scores folders with the Beam job in ``shards`` mapped tasks; runs on each new model in the registry, or by hand.

    ``list_shards`` -> ``score`` (one mapped task per shard) -> ``reconcile``
    (``dermflow.orchestration.sharded_scoring_tasks``; docs/deployment.md#sharded-scoring)
    -> ``check_drift`` -> ``drift_detected``, run only when the run drifted (``dermflow.orchestration.drift_tasks``).
    """
    path = parse_time_config_path(config_path)
    cfg = load_config(path)
    model_default = str(Path(cfg.paths.registry) / cfg.model_name)
    settings: dict[str, Any] = {
        "schedule": [registry_asset(cfg)],
        "start_date": START_DATE,
        "catchup": False,
        "default_args": {
            "retries": cfg.airflow.retries,
            "retry_delay": timedelta(seconds=cfg.airflow.retry_delay_seconds),
            "retry_exponential_backoff": cfg.airflow.retry_backoff,
            "max_retry_delay": timedelta(seconds=cfg.airflow.max_retry_delay_seconds),
            "queue": cfg.airflow.default_queue,
        },
        "params": {
            "input": Param(list(cfg.airflow.score_inputs), type="array", items={"type": "string", "minLength": 1},
                           description="Folders (recursive) or globs to score."),
            "output": Param(str(cfg.airflow.score_output), type="string", minLength=1,
                            description="Output folder for the Parquet predictions and errors."),
            "model": Param(model_default, type="string", minLength=1,
                           description="REGISTRY[/NAME[/VERSION]]; default the latest registered model."),
            "shards": Param(cfg.airflow.score_shards, type="integer", minimum=1,
                            description="Tasks the files are split across, by a stable hash of their path."),
        },
        "tags": ["dermflow", "beam", "scoring"],
        "doc_md": "Batch scoring with Beam (dermflow score); triggered by new models (see docs/airflow.md).",
    }
    settings.update(dag_kwargs)
    config_arg = str(path) if path else None
    with DAG(dag_id, **settings) as dag:
        listing = PythonOperator(task_id=LIST_TASK, python_callable=list_shards, op_kwargs={"config_path": config_arg})
        shards = PythonOperator.partial(
            task_id="score", python_callable=score_shard, op_args=[config_arg],
            map_index_template="{{ task.op_kwargs['shard'] }}",
        ).expand(op_kwargs=listing.output)
        check = PythonOperator(
            task_id="reconcile", python_callable=reconcile, op_kwargs={"config_path": config_arg}, retries=0,
        )
        listing >> shards >> check >> _drift_tasks(cfg, config_arg)
    return dag


def _drift_tasks(cfg: DermflowConfig, config_arg: str | None) -> PythonOperator:
    """check_drift (a branch, once over the whole run) -> drift_detected (the drift asset's event and the notifier)."""
    check = BranchPythonOperator(
        task_id=drift_tasks.CHECK_TASK, python_callable=drift_tasks.check_drift,
        op_kwargs={"config_path": config_arg, "list_task": LIST_TASK},
    )
    detected = PythonOperator(
        task_id=drift_tasks.DETECTED_TASK, python_callable=drift_tasks.drift_detected,
        op_kwargs={"notifier": cfg.drift.notifier}, outlets=[drift_tasks.drift_asset(cfg.model_name, cfg.airflow.score_output)],
    )
    check >> detected
    return check
