"""What a training run did, read back from ML Metadata: per-node states, blessing, push, metrics, reason."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from dermflow.config import PathsConfig
from dermflow.evaluation.artefact_summary import REPORT_FILE, metrics_summary
from dermflow.evaluation.eval_config_builder import GATED_METRIC
from dermflow.evaluation.eval_result_reader import read_eval_metrics, read_validation
from dermflow.isic.label_vocabulary import read_label_names

log = logging.getLogger(__name__)


def node_summaries(pipeline_ir: Any, paths: PathsConfig) -> dict[str, dict]:
    """node id -> its latest execution in this pipeline run (state, output artifacts); absent if it never ran."""
    from tfx.orchestration import metadata

    from dermflow.tfx_runtime.node_runner import execution_summary, metadata_connection_config, node_executions

    summaries = {}
    with metadata.Metadata(metadata_connection_config(pipeline_ir, paths)) as mlmd:
        for node in pipeline_ir.nodes:
            pipeline_node = node.pipeline_node
            node_id = pipeline_node.node_info.id
            executions = node_executions(mlmd, pipeline_node)
            if executions:
                latest = max(executions, key=lambda execution: execution.id)
                summaries[node_id] = execution_summary(mlmd, latest, node_id, reused=False)
    return summaries


def summarize_training(nodes: dict[str, dict], run_id: str) -> dict:
    """The ``run_training`` result: pushed, blessed, version, model_dir, metrics, artefacts, reason (+ run_id, states).

    ``blessed``: by the Evaluator and by the ArtefactCheck; ``reason`` says both verdicts.
    """
    evaluation_uri = _output_uri(nodes, "Evaluator", "evaluation")
    vocabulary_uri = _output_uri(nodes, "ClassFilter", "label_vocabulary")
    labels = read_label_names(Path(vocabulary_uri)) if vocabulary_uri else []
    evaluator_blessed = _custom_property(nodes, "Evaluator", "blessing", "blessed") == 1
    pushed = _custom_property(nodes, "RegistryPusher", "pushed_model", "pushed") == 1
    metrics = read_eval_metrics(evaluation_uri, labels)["overall"] if evaluation_uri else {}
    artefact_uri = _output_uri(nodes, "ArtefactCheck", "artefact_report")
    artefacts = read_artefact_summary(artefact_uri)
    reason = blessing_reason(evaluator_blessed, evaluation_uri, metrics)
    if artefacts is not None:
        if evaluator_blessed and not artefacts["passed"]:
            reason = f"not blessed: {artefacts['reason']} ({reason.removeprefix('blessed: ')})"
        else:
            reason = f"{reason}; {artefacts['reason']}"
    return {
        "pushed": pushed,
        "blessed": evaluator_blessed and (artefacts is None or artefacts["passed"]),
        "version": _custom_property(nodes, "RegistryPusher", "pushed_model", "pushed_version") if pushed else None,
        "model_dir": _custom_property(nodes, "RegistryPusher", "pushed_model", "pushed_destination") if pushed else None,
        "metrics": metrics,
        "artefacts": artefacts,
        "reason": reason,
        "report": None,
        "run_id": run_id,
        "states": {node_id: summary["state"] for node_id, summary in nodes.items()},
    }


def read_artefact_summary(uri: str | None) -> dict | None:
    """The ArtefactCheck's figures in ``metrics.json``'s form, or None when it did not run."""
    path = Path(uri) / REPORT_FILE if uri else None
    if path is None or not path.is_file():
        return None
    return metrics_summary(json.loads(path.read_text(encoding="utf-8")))


def blessing_reason(blessed: bool, evaluation_uri: str | None, metrics: dict) -> str:
    if evaluation_uri is None:
        return "the Evaluator did not run"
    value = metrics.get(GATED_METRIC)
    shown = f"{value:.4f}" if isinstance(value, float) else "n/a"
    if blessed:
        return f"blessed: {GATED_METRIC} = {shown} passed every threshold"
    return f"not blessed: {read_validation(evaluation_uri).reason}"


def log_outcome(result: dict) -> None:
    """One plain line for the logs, at WARNING when the model was not pushed."""
    overall = {key: value for key, value in result["metrics"].items() if key != "per_class"}
    if result["pushed"]:
        log.info("training run %s pushed version %s (%s); metrics %s", result["run_id"], result["version"], result["reason"], overall)
    else:
        log.warning("training run %s pushed nothing: %s; metrics %s", result["run_id"], result["reason"], overall)


def format_result(result: dict) -> str:
    """A short human-readable summary for the command line."""
    lines = [f"run {result['run_id']}: " + (f"pushed version {result['version']}" if result["pushed"] else "nothing pushed")]
    lines.append(f"  {result['reason']}")
    for key in ("example_count", "accuracy", GATED_METRIC):
        if key in result["metrics"]:
            lines.append(f"  {key}: {result['metrics'][key]}")
    for label, values in result["metrics"].get("per_class", {}).items():
        lines.append(f"  {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items() if isinstance(v, float)))
    artefacts = (result.get("artefacts") or {}).get("per_artefact") or {}
    if artefacts:
        lines.append("  labels changed by pasted artefacts: " + ", ".join(
            f"{kind} {figures['flip_rate']:.1%}" + (" FAILED" if kind in result["artefacts"]["failed_kinds"] else "")
            for kind, figures in artefacts.items()))
    if result["model_dir"]:
        lines.append(f"  model: {result['model_dir']}")
    if result["report"]:
        lines.append(f"  report: {result['report']}")
    return "\n".join(lines)


def _outputs(nodes: dict[str, dict], node_id: str, key: str) -> list[dict]:
    return nodes.get(node_id, {}).get("outputs", {}).get(key, [])


def _output_uri(nodes: dict[str, dict], node_id: str, key: str) -> str | None:
    artifacts = _outputs(nodes, node_id, key)
    return artifacts[0]["uri"] if artifacts else None


def _custom_property(nodes: dict[str, dict], node_id: str, key: str, name: str):
    artifacts = _outputs(nodes, node_id, key)
    return artifacts[0]["custom_properties"].get(name) if artifacts else None
