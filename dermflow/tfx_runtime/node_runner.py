"""Runs one node of a TFX pipeline, inside one Airflow task, with TFX's portable launcher.

Every task of a DAG run uses the same TFX pipeline-run id (derived from the Airflow run id)
and the same ML Metadata store, so each node resolves its inputs from the artifacts its
upstream tasks published in that run, and lineage is kept across tasks. This is the recipe
of ``tfx.orchestration.local.LocalDagRunner.run_with_ir``, one node at a time.

Retries are idempotent: a node that already has a COMPLETE or CACHED execution in this
pipeline run is not launched again. An execution left RUNNING by a killed attempt is
reused by the launcher (same execution id, so the same output URIs); its partial output
directories are removed first, so downstream never reads a mix of two attempts. TFX is
imported inside the functions, never at module level.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from dermflow.config import DermflowConfig, PathsConfig
from dermflow.tfx_runtime.metadata_password import with_password
from dermflow.tfx_runtime.pipeline_graph import DEFAULT_PIPELINE_FACTORY, compile_pipeline, import_factory

log = logging.getLogger(__name__)

STATE_SKIPPED = "SKIPPED"


class NodeFailedError(RuntimeError):
    """A TFX node failed; the message carries the component's own error."""


def tfx_run_id(airflow_run_id: str) -> str:
    """An Airflow run id (``manual__2025-01-01T00:00:00+00:00``) as a TFX pipeline-run id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", airflow_run_id).strip("_") or "run"


def build_pipeline_ir(cfg: DermflowConfig, run_id: str, pipeline_factory: str = DEFAULT_PIPELINE_FACTORY) -> Any:
    """Builds and compiles the pipeline, with its pipeline-run id set to ``tfx_run_id(run_id)``."""
    from tfx.dsl.compiler import constants
    from tfx.orchestration.portable import runtime_parameter_utils

    pipeline_ir = compile_pipeline(import_factory(pipeline_factory)(cfg))
    runtime_parameter_utils.substitute_runtime_parameter(
        pipeline_ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: tfx_run_id(run_id)}
    )
    return pipeline_ir


def metadata_connection_config(pipeline_ir: Any, paths: PathsConfig) -> Any:
    """The pipeline's ML Metadata connection, with a MySQL password read now (``metadata_password``)."""
    from tfx.orchestration.local import runner_utils

    deployment = runner_utils.extract_local_deployment_config(pipeline_ir)
    which = deployment.metadata_connection_config.WhichOneof("connection_config")
    return with_password(getattr(deployment.metadata_connection_config, which), paths)


def find_node(pipeline_ir: Any, node_id: str) -> Any:
    ids = []
    for node in pipeline_ir.nodes:
        if node.pipeline_node.node_info.id == node_id:
            return node.pipeline_node
        ids.append(node.pipeline_node.node_info.id)
    raise KeyError(f"node {node_id!r} is not in pipeline {pipeline_ir.pipeline_info.id!r}; its nodes are {ids}")


def node_executions(mlmd: Any, pipeline_node: Any) -> list[Any]:
    """Executions of this node in this pipeline run (its pipeline, run and node contexts)."""
    from tfx.orchestration.portable.mlmd import context_lib, execution_lib

    contexts = context_lib.prepare_contexts(metadata_handle=mlmd, node_contexts=pipeline_node.contexts)
    return execution_lib.get_executions_associated_with_all_contexts(mlmd, contexts)


def _property_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which in ("int_value", "double_value", "string_value", "bool_value"):
        return getattr(value, which)
    return None


def execution_summary(mlmd: Any, execution: Any, node_id: str, reused: bool) -> dict[str, Any]:
    """A JSON-able summary: state, and each output artifact's uri and custom properties."""
    from ml_metadata.proto import metadata_store_pb2
    from tfx.orchestration.portable.mlmd import execution_lib

    outputs: dict[str, list[dict[str, Any]]] = {}
    for key, artifacts in execution_lib.get_output_artifacts(mlmd, execution.id).items():
        outputs[key] = [
            {
                "id": artifact.id,
                "uri": artifact.uri,
                "custom_properties": {
                    name: _property_value(value) for name, value in artifact.mlmd_artifact.custom_properties.items()
                },
            }
            for artifact in artifacts
        ]
    return {
        "node_id": node_id,
        "execution_id": execution.id,
        "state": metadata_store_pb2.Execution.State.Name(execution.last_known_state),
        "reused": reused,
        "outputs": outputs,
    }


def execution_error(execution: Any) -> str:
    from tfx.orchestration.portable.mlmd import execution_lib

    result = execution_lib.get_execution_result(execution, ignore_parse_errors=True)
    return result.result_message if result is not None and result.result_message else "no error message recorded"


def remove_partial_outputs(pipeline_ir: Any, pipeline_node: Any, execution: Any) -> None:
    """Removes the output directories a killed attempt of ``execution`` may have left behind."""
    from tfx.dsl.io import fileio
    from tfx.orchestration.portable import outputs_utils

    resolver = outputs_utils.OutputsResolver(
        pipeline_node=pipeline_node, pipeline_info=pipeline_ir.pipeline_info, pipeline_runtime_spec=pipeline_ir.runtime_spec
    )
    output_dict = resolver.generate_output_artifacts(execution.id)
    log.warning(
        "%s: execution %d was left %s by an earlier attempt; removing its partial outputs %s",
        pipeline_node.node_info.id, execution.id, execution.last_known_state,
        [artifact.uri for artifacts in output_dict.values() for artifact in artifacts],
    )
    leftovers = {
        key: [a for a in artifacts if not a.is_external and fileio.exists(a.uri)]
        for key, artifacts in output_dict.items()
    }
    outputs_utils.remove_output_dirs(leftovers)


def launch_node(pipeline_ir: Any, pipeline_node: Any, connection_config: Any) -> Any:
    """Launches one node with the portable launcher; returns its ``ExecutionInfo``."""
    from tfx.orchestration import metadata
    from tfx.orchestration.local import runner_utils
    from tfx.orchestration.portable import launcher

    deployment = runner_utils.extract_local_deployment_config(pipeline_ir)
    node_id = pipeline_node.node_info.id
    return launcher.Launcher(
        pipeline_node=pipeline_node,
        mlmd_connection=metadata.Metadata(connection_config),
        pipeline_info=pipeline_ir.pipeline_info,
        pipeline_runtime_spec=pipeline_ir.runtime_spec,
        executor_spec=runner_utils.extract_executor_spec(deployment, node_id),
        custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment, node_id),
    ).launch()


def run_node(
    node_id: str, run_id: str, config_json: str, pipeline_factory: str = DEFAULT_PIPELINE_FACTORY
) -> dict[str, Any]:
    """Runs ``node_id`` of ``pipeline_factory(cfg)`` in the TFX pipeline run for ``run_id``.

    Returns ``execution_summary`` (``state`` is ``SKIPPED`` when TFX skipped the node because
    its inputs are absent). Raises ``NodeFailedError`` with the component's error message.
    """
    from tfx.orchestration import metadata
    from tfx.orchestration.portable.mlmd import execution_lib

    cfg = DermflowConfig.from_json(config_json)
    pipeline_ir = build_pipeline_ir(cfg, run_id, pipeline_factory)
    pipeline_node = find_node(pipeline_ir, node_id)
    connection_config = metadata_connection_config(pipeline_ir, cfg.paths)
    log.info("TFX pipeline %s, run %s, node %s", pipeline_ir.pipeline_info.id, tfx_run_id(run_id), node_id)

    with metadata.Metadata(connection_config) as mlmd:
        previous = node_executions(mlmd, pipeline_node)
        done = [e for e in previous if execution_lib.is_execution_successful(e)]
        if done:
            log.info("%s already has execution %d (%s) in this run; not running it again",
                     node_id, done[-1].id, done[-1].last_known_state)
            return execution_summary(mlmd, done[-1], node_id, reused=True)
        for execution in previous:
            if execution_lib.is_execution_active(execution):
                remove_partial_outputs(pipeline_ir, pipeline_node, execution)

    try:
        execution_info = launch_node(pipeline_ir, pipeline_node, connection_config)
    except Exception as exc:
        raise NodeFailedError(f"TFX node {node_id} failed: {type(exc).__name__}: {exc}") from exc

    if execution_info is None or execution_info.execution_id is None:
        log.warning("%s was skipped by TFX: its inputs are not available in this run", node_id)
        return {"node_id": node_id, "execution_id": None, "state": STATE_SKIPPED, "reused": False, "outputs": {}}
    with metadata.Metadata(connection_config) as mlmd:
        [execution] = mlmd.store.get_executions_by_id([execution_info.execution_id])
        if not execution_lib.is_execution_successful(execution):
            raise NodeFailedError(f"TFX node {node_id} failed: {execution_error(execution)}")
        summary = execution_summary(mlmd, execution, node_id, reused=False)
    log.info("%s finished: execution %d, outputs %s", node_id, summary["execution_id"],
             {key: [a["uri"] for a in arts] for key, arts in summary["outputs"].items()})
    return summary
