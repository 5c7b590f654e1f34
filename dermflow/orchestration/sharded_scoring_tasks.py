"""The scoring DAG's tasks: list and shard the inputs, score each shard, reconcile the run.

    list_shards  --expand-->  score[0..N-1]  -->  reconcile

* ``list_shards`` lists the input files once, pins the model version (every shard scores with
  the same one even if a model is pushed meanwhile), writes one manifest per shard
  (``dermflow.orchestration.scoring_shards``) and returns one ``op_kwargs`` dict per shard.
* ``score`` (one mapped task per shard) runs ``dermflow score --files-from MANIFEST --shard K``
  with the run id of the Airflow run: all shards land in one Parquet dataset, each shard's files
  named after it. A retry re-scores only what its earlier attempt did not publish (skip by sha256).
* ``reconcile`` reads the dataset back and fails, without retries, unless every file given has
  exactly one row (``dermflow.pipelines.scoring.run_reconciliation``).

Heavy imports (Beam, TensorFlow) happen inside the task callables, never when the DAG is parsed.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

log = logging.getLogger(__name__)

LIST_TASK = "list_shards"


def _config(config_path: str | None):
    from dermflow.orchestration.task_commands import run_time_config_path
    from dermflow.config import load_config

    return load_config(run_time_config_path(config_path))


def list_shards(config_path: str | None, **context: Any) -> list[dict[str, Any]]:
    from dermflow.orchestration.scoring_shards import manifests_dir, write_manifests
    from dermflow.tfx_runtime.node_runner import tfx_run_id
    from dermflow.pipelines.scoring.input_listing import list_input_files
    from dermflow.registry import resolve_model

    cfg = _config(config_path)
    params = context["params"]
    inputs = list(params.get("input") or [])
    if not inputs:
        raise AirflowSkipException("nothing to score: set the 'input' param or airflow.score_inputs in the config")
    shards = int(params.get("shards") or cfg.airflow.score_shards)
    run_id = tfx_run_id(context["run_id"])
    registered = resolve_model(params["model"], default_name=cfg.model_name)
    os.environ.update(dicomweb_environment(cfg))  # this task process only: the listing of dicomweb:// inputs
    files = list_input_files(inputs, exclude_under=str(params["output"]), dicomweb_conn_id=cfg.score.dicomweb_conn_id)
    manifests = write_manifests(files, shards, manifests_dir(cfg.paths.work_dir, run_id))
    log.info("run %s: %d files in %d shards %s, model %s/%s", run_id, len(files), shards,
             [len(_entries(m.path)) for m in manifests], registered.name, registered.version)
    return [
        {"manifest": m.path, "shard": m.label, "model": str(registered.path), "model_version": registered.version,
         "output": str(params["output"]), "run_id": run_id}
        for m in manifests
    ]


def dicomweb_environment(cfg) -> dict[str, str]:
    """The DICOMweb credentials of ``score.dicomweb_conn_id`` (an Airflow connection) as the variables
    ``dermflow score`` reads; empty without a connection. Never logged, never in the config."""
    if not cfg.score.dicomweb_conn_id:
        return {}
    from dermflow.clinical.dicomweb_credentials import airflow_connection_auth

    return airflow_connection_auth(cfg.score.dicomweb_conn_id).as_environment()


def _entries(path: str) -> list:
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))


def shard_command(manifest: str, shard: str, model: str, output: str, run_id: str, config_path: str | None) -> list[str]:
    command = [sys.executable, "-m", "dermflow.cli", "score", "--files-from", manifest, "--shard", shard,
               "--model", model, "--output", output, "--run-id", run_id]
    return command + (["--config", config_path] if config_path else [])


def score_shard(config_path: str | None, manifest: str, shard: str, model: str, model_version: str, output: str,
                run_id: str, **context: Any) -> dict[str, Any]:
    from dermflow.orchestration.task_commands import run_time_config_path, stream_command

    count = len(_entries(manifest))
    if count == 0:
        log.info("%s of run %s has no files", shard, run_id)
    else:
        env = dicomweb_environment(_config(config_path))
        stream_command(shard_command(manifest, shard, model, output, run_id, run_time_config_path(config_path)), env=env)
    return {"shard": shard, "files": count}


def reconcile(config_path: str | None, **context: Any) -> dict[str, Any]:
    from dermflow.orchestration.scoring_shards import read_manifest
    from dermflow.pipelines.scoring.run_reconciliation import ReconciliationError, publish_run_outputs, reconcile_run

    os.environ.update(dicomweb_environment(_config(config_path)))  # a lost dicomweb:// file is read back by WADO-RS
    shards = context["ti"].xcom_pull(task_ids=LIST_TASK)
    files = [item for shard in shards for item in read_manifest(shard["manifest"])]
    first = shards[0]
    try:
        summary = reconcile_run(first["output"], first["run_id"], first["model_version"], files)
    except ReconciliationError as exc:
        raise AirflowFailException(str(exc)) from exc
    publish_run_outputs(first["output"], first["run_id"])
    log.info("run %s reconciled across %d shards: %s", first["run_id"], len(shards), summary)
    return summary
