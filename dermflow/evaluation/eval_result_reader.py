"""Reads a TFMA output folder (the Evaluator's ``evaluation`` artifact) back as plain, JSON-friendly data.

    metrics = read_eval_metrics(evaluation_uri, ["MEL", "NV", "BCC"])
    metrics["overall"]["isic_balanced_accuracy"], metrics["overall"]["per_class"]["MEL"]["auc"]
    metrics["slices"]["sex=female"]["accuracy"], metrics["confusion_matrix"]
    validation = read_validation(evaluation_uri)   # -> Validation(ok, failures=[readable lines])
    read_reviewed_slice(evaluation_uri, labels)    # the reviewed slice's overall metrics, or None
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from tensorflow_model_analysis.api.model_eval_lib import load_metrics, load_plots, load_validation_result

BASELINE_MODEL_NAME = "baseline"
OVERALL = "overall"
CONFUSION_PLOT_NAME = "multi_class_confusion_matrix_plot"
REVIEWED_SLICE_DIR = "reviewed_slice"  # the Evaluator's second evaluation, inside its output (never gated)


@dataclass(frozen=True)
class Validation:
    ok: bool
    failures: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.ok:
            return "all evaluation thresholds passed"
        return "; ".join(self.failures) or "evaluation thresholds failed"


def read_eval_metrics(evaluation_uri: str, label_names: list[str]) -> dict:
    """``{"overall": {...}, "slices": {"sex=male": {...}}, "confusion_matrix": {...}}``; candidate model only.

    Each slice holds its scalar metrics, ``per_class`` (label -> metric -> value) and, where the
    Evaluator had a baseline, ``<metric>_diff`` (candidate minus baseline).
    """
    overall: dict = {}
    slices: dict[str, dict] = {}
    for metrics_for_slice in load_metrics(evaluation_uri):
        name = slice_name(metrics_for_slice.slice_key)
        values = _slice_values(metrics_for_slice.metric_keys_and_values, label_names)
        if name == OVERALL:
            overall = values
        else:
            slices[name] = values
    return {
        OVERALL: overall,
        "slices": dict(sorted(slices.items())),
        "confusion_matrix": read_confusion_matrix(evaluation_uri, label_names),
        "labels": list(label_names),
    }


def read_reviewed_slice(evaluation_uri: str, label_names: list[str]) -> dict | None:
    """The reviewed slice's overall metrics (candidate, with ``*_diff`` against the baseline) and its confusion
    matrix, when the Evaluator measured one (components/reviewed_slice_evaluator); else None."""
    import os

    uri = os.path.join(evaluation_uri, REVIEWED_SLICE_DIR)
    if not os.path.isdir(uri):
        return None
    metrics = read_eval_metrics(uri, label_names)
    return {"overall": metrics[OVERALL], "confusion_matrix": metrics["confusion_matrix"]}


def read_confusion_matrix(evaluation_uri: str, label_names: list[str]) -> dict:
    """The overall (true class x argmax class) counts from TFMA's MultiClassConfusionMatrixPlot."""
    size = len(label_names)
    matrix = [[0.0] * size for _ in range(size)]
    for plots_for_slice in load_plots(evaluation_uri):
        if slice_name(plots_for_slice.slice_key) != OVERALL:
            continue
        for item in plots_for_slice.plot_keys_and_values:
            if item.key.name != CONFUSION_PLOT_NAME or _is_baseline(item.key):
                continue
            for entry in item.value.multi_class_confusion_matrix_at_thresholds.matrices[0].entries:
                if entry.actual_class_id < size and entry.predicted_class_id < size:
                    matrix[entry.actual_class_id][entry.predicted_class_id] = entry.num_weighted_examples
    return {"labels": list(label_names), "rows_true_columns_predicted": matrix}


def read_validation(evaluation_uri: str) -> Validation:
    result = load_validation_result(evaluation_uri)
    failures = [
        f"{describe_failure(failure)} on slice {slice_name(per_slice.slice_key)}"
        for per_slice in result.metric_validations_per_slice
        for failure in per_slice.failures
    ]
    failures += [f"no data for slicing spec {d.slicing_spec}" for d in result.missing_slices]
    return Validation(ok=bool(result.validation_ok), failures=failures)


def describe_failure(failure) -> str:
    """``isic_balanced_accuracy = 0.412 is below the minimum 0.500`` and the like."""
    key = failure.metric_key
    value = failure.metric_value.double_value.value
    name = key.name + (" change vs baseline" if key.is_diff else "")
    threshold = failure.metric_threshold
    if threshold.HasField("value_threshold"):
        bounds = threshold.value_threshold
        if bounds.HasField("lower_bound") and value < bounds.lower_bound.value:
            return f"{name} = {value:.4f} is below the minimum {bounds.lower_bound.value:.4f}"
        if bounds.HasField("upper_bound") and value > bounds.upper_bound.value:
            return f"{name} = {value:.4f} is above the maximum {bounds.upper_bound.value:.4f}"
    if threshold.HasField("change_threshold"):
        allowed = threshold.change_threshold.absolute.value
        return f"{name} = {value:+.4f} is worse than the allowed change {allowed:+.4f}"
    return f"{name} = {value:.4f} fails {failure.message or 'its threshold'}"


def slice_name(slice_key) -> str:
    """``overall`` for the whole split, else ``column=value`` pairs joined by ``&``."""
    parts = []
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind) if kind else ""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        parts.append(f"{single.column}={value}")
    return "&".join(parts) or OVERALL


def _slice_values(metric_keys_and_values, label_names: list[str]) -> dict:
    values: dict = {}
    per_class: dict[str, dict[str, float]] = {}
    for item in metric_keys_and_values:
        key = item.key
        if _is_baseline(key) or item.value.WhichOneof("type") != "double_value":
            continue
        name = key.name + ("_diff" if key.is_diff else "")
        value = _json_number(item.value.double_value.value)
        if key.HasField("sub_key") and key.sub_key.HasField("class_id"):
            class_id = key.sub_key.class_id.value
            label = label_names[class_id] if class_id < len(label_names) else str(class_id)
            per_class.setdefault(label, {})[name] = value
        elif not key.HasField("sub_key"):
            values[name] = value
    values["per_class"] = {label: per_class[label] for label in label_names if label in per_class}
    return values


def _is_baseline(key) -> bool:
    """A baseline's own value (not the candidate-minus-baseline diff); plot keys have no diffs."""
    is_diff = "is_diff" in key.DESCRIPTOR.fields_by_name and key.is_diff
    return key.model_name == BASELINE_MODEL_NAME and not is_diff


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)
