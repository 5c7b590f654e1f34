"""Multi-class metrics over argmax predictions, as TFMA metrics, led by ISIC's balanced accuracy.

The ISIC 2019 challenge ranks models by the mean of the per-class recalls, where the predicted
class is the argmax of the probabilities. TFMA's own ``BalancedAccuracy`` is (TPR + TNR) / 2 of a
binarized, thresholded problem: a different quantity.

    tfma.MetricConfig(class_name="IsicBalancedAccuracy", module="dermflow.evaluation.isic_metrics")
    tfma.MetricConfig(class_name="ArgmaxAccuracy", module=...)
    tfma.MetricConfig(class_name="ArgmaxClassMetrics", module=..., config='{"num_classes": 3}')
    tfma.MetricConfig(class_name="ExpectedCalibrationError", module=..., config='{"bins": 15}')

ArgmaxClassMetrics also gives per-class F1 (= Dice) and Jaccard (= IoU), as melanoma papers
report them. ExpectedCalibrationError is the top-label ECE of the (calibrated) probabilities
(dermflow.trust.calibration_metrics; TFMA's "calibration" is mean prediction / mean label, not an error).

The first three accumulate the same confusion matrix of (true class, argmax class). Classes that have
no example in a slice are left out of the balanced accuracy (as scikit-learn's
``balanced_accuracy_score`` does); a slice with no example at all gives NaN.
"""
from __future__ import annotations

import functools
from typing import Callable, Dict, Iterable, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

ISIC_BALANCED_ACCURACY_NAME = "isic_balanced_accuracy"
ARGMAX_ACCURACY_NAME = "accuracy"
SENSITIVITY_NAME = "sensitivity"
SPECIFICITY_NAME = "specificity"
PRECISION_NAME = "precision"
F1_NAME = "f1"
JACCARD_NAME = "jaccard"
ECE_NAME = "expected_calibration_error"
CLASS_RATES = (SENSITIVITY_NAME, SPECIFICITY_NAME, PRECISION_NAME, F1_NAME, JACCARD_NAME)

_Summary = Callable[[np.ndarray], Dict[metric_types.MetricKey, float]]


class IsicBalancedAccuracy(metric_types.Metric):
    """Mean over classes of recall = TP / (TP + FN), with argmax predictions and sparse int labels."""

    def __init__(self, name: str = ISIC_BALANCED_ACCURACY_NAME):
        super().__init__(metric_util.merge_per_key_computations(_isic_balanced_accuracy), name=name)


metric_types.register_metric(IsicBalancedAccuracy)


def balanced_accuracy_from_confusion(confusion: np.ndarray) -> float:
    """Mean recall over the rows (true classes) of a confusion matrix that have any example."""
    confusion = np.asarray(confusion, dtype=np.float64)
    support = confusion.sum(axis=1)
    present = support > 0
    if not present.any():
        return float("nan")
    recalls = np.diag(confusion)[present] / support[present]
    return float(recalls.mean())


def _scalar_from_confusion(default_name: str, compute: Callable[[np.ndarray], float]):
    """A TFMA create-computations function for one scalar read off the argmax confusion matrix.

    TFMA picks the keyword arguments it passes by reading this signature, so it is spelled out.
    """

    def create_computations(
        name: str = default_name,
        eval_config: Optional[config_pb2.EvalConfig] = None,
        model_name: str = "",
        output_name: str = "",
        sub_key: Optional[metric_types.SubKey] = None,
        aggregation_type: Optional[metric_types.AggregationType] = None,
        class_weights: Optional[Dict[int, float]] = None,
        example_weighted: bool = False,
    ) -> metric_types.MetricComputations:
        key = metric_types.MetricKey(
            name=name, model_name=model_name, output_name=output_name, sub_key=sub_key, example_weighted=example_weighted
        )
        summary = functools.partial(_single_value, key, compute)
        return [_confusion_computation([key], eval_config, example_weighted, summary)]

    return create_computations


_isic_balanced_accuracy = _scalar_from_confusion(ISIC_BALANCED_ACCURACY_NAME, balanced_accuracy_from_confusion)


class ArgmaxAccuracy(metric_types.Metric):
    """Fraction of examples whose argmax class is the label (multi-class accuracy)."""

    def __init__(self, name: str = ARGMAX_ACCURACY_NAME):
        super().__init__(metric_util.merge_per_key_computations(_argmax_accuracy), name=name)


metric_types.register_metric(ArgmaxAccuracy)


def accuracy_from_confusion(confusion: np.ndarray) -> float:
    total = float(np.sum(confusion))
    return float(np.trace(confusion) / total) if total > 0 else float("nan")


_argmax_accuracy = _scalar_from_confusion(ARGMAX_ACCURACY_NAME, accuracy_from_confusion)


class ArgmaxClassMetrics(metric_types.Metric):
    """Per class (one-vs-rest over argmax predictions): sensitivity, specificity and precision.

    Keys are ``sensitivity``, ``specificity``, ``precision``, ``f1`` and ``jaccard``, each with ``sub_key.class_id``.
    """

    def __init__(self, num_classes: int, name: str = "argmax_class_metrics"):
        super().__init__(_argmax_class_metrics, num_classes=num_classes, name=name)


metric_types.register_metric(ArgmaxClassMetrics)


def one_vs_rest_rates(confusion: np.ndarray, class_id: int) -> dict[str, float]:
    """Sensitivity, specificity, precision, F1 (Dice) and Jaccard (IoU) of one class against the rest."""
    confusion = np.asarray(confusion, dtype=np.float64)
    if class_id >= confusion.shape[0]:
        return {rate: float("nan") for rate in CLASS_RATES}
    tp = confusion[class_id, class_id]
    fn = confusion[class_id].sum() - tp
    fp = confusion[:, class_id].sum() - tp
    tn = confusion.sum() - tp - fn - fp
    return {
        SENSITIVITY_NAME: _ratio(tp, tp + fn),
        SPECIFICITY_NAME: _ratio(tn, tn + fp),
        PRECISION_NAME: _ratio(tp, tp + fp),
        F1_NAME: _ratio(2 * tp, 2 * tp + fp + fn),
        JACCARD_NAME: _ratio(tp, tp + fp + fn),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


def _argmax_class_metrics(
    num_classes: int,
    name: str = "argmax_class_metrics",
    eval_config: Optional[config_pb2.EvalConfig] = None,
    model_names: Optional[list[str]] = None,
    output_names: Optional[list[str]] = None,
    sub_keys: Optional[list[Optional[metric_types.SubKey]]] = None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    del name, sub_keys  # one key per class and rate, whatever the spec binarizes
    computations = []
    for model_name in model_names or [""]:
        for output_name in output_names or [""]:
            keys: dict[tuple[int, str], metric_types.MetricKey] = {
                (class_id, rate): metric_types.MetricKey(
                    name=rate,
                    model_name=model_name,
                    output_name=output_name,
                    sub_key=metric_types.SubKey(class_id=class_id),
                    example_weighted=example_weighted,
                )
                for class_id in range(num_classes)
                for rate in CLASS_RATES
            }
            summary = functools.partial(_class_rates, keys)
            computations.append(_confusion_computation(list(keys.values()), eval_config, example_weighted, summary))
    return computations


def _single_value(
    key: metric_types.MetricKey, compute: Callable[[np.ndarray], float], confusion: np.ndarray
) -> Dict[metric_types.MetricKey, float]:
    return {key: compute(confusion)}


def _class_rates(
    keys: dict[tuple[int, str], metric_types.MetricKey], confusion: np.ndarray
) -> Dict[metric_types.MetricKey, float]:
    rates = {class_id: one_vs_rest_rates(confusion, class_id) for class_id, _ in keys}
    return {key: rates[class_id][rate] for (class_id, rate), key in keys.items()}


def _confusion_computation(
    keys: list[metric_types.MetricKey],
    eval_config: Optional[config_pb2.EvalConfig],
    example_weighted: bool,
    summary: _Summary,
) -> metric_types.MetricComputation:
    combiner = _ConfusionMatrixCombiner(keys[0], eval_config, example_weighted, summary)
    return metric_types.MetricComputation(keys=keys, preprocessors=None, combiner=combiner)


class _ConfusionMatrixCombiner(beam.CombineFn):
    """Accumulates a (growing) confusion matrix of (true class, argmax class); ``summary`` reads it."""

    def __init__(
        self,
        key: metric_types.MetricKey,
        eval_config: Optional[config_pb2.EvalConfig],
        example_weighted: bool,
        summary: _Summary,
    ):
        self._key = key
        self._eval_config = eval_config
        self._example_weighted = example_weighted
        self._summary = summary

    def create_accumulator(self) -> np.ndarray:
        return np.zeros((0, 0), dtype=np.float64)

    def add_input(self, accumulator: np.ndarray, element: metric_types.StandardMetricInputs) -> np.ndarray:
        label, prediction, weight = next(
            metric_util.to_label_prediction_example_weight(
                element,
                eval_config=self._eval_config,
                model_name=self._key.model_name,
                output_name=self._key.output_name,
                example_weighted=self._example_weighted,
                flatten=False,
                require_single_example_weight=True,
            )
        )
        prediction = np.asarray(prediction).reshape(-1)
        true_class = int(np.asarray(label).reshape(-1)[0])
        predicted_class = int(np.argmax(prediction))
        size = max(prediction.size, true_class + 1, accumulator.shape[0])
        accumulator = _grow(accumulator, size)
        accumulator[true_class, predicted_class] += float(np.asarray(weight).reshape(-1)[0])
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[np.ndarray]) -> np.ndarray:
        accumulators = list(accumulators)
        size = max(acc.shape[0] for acc in accumulators)
        merged = np.zeros((size, size), dtype=np.float64)
        for acc in accumulators:
            merged += _grow(acc, size)
        return merged

    def extract_output(self, accumulator: np.ndarray) -> Dict[metric_types.MetricKey, float]:
        return self._summary(accumulator)


def _grow(matrix: np.ndarray, size: int) -> np.ndarray:
    if matrix.shape[0] >= size:
        return matrix
    grown = np.zeros((size, size), dtype=np.float64)
    grown[: matrix.shape[0], : matrix.shape[1]] = matrix
    return grown


class ExpectedCalibrationError(metric_types.Metric):
    """Top-label ECE: equal-width bins of the max probability, weighted mean |accuracy - confidence|."""

    def __init__(self, bins: int = 15, name: str = ECE_NAME):
        super().__init__(_ece_computations, bins=bins, name=name)


metric_types.register_metric(ExpectedCalibrationError)


def ece_from_bins(accumulator: np.ndarray) -> float:
    """``accumulator`` [bins, 3]: weight, weighted confidence sum, weighted correct sum per bin."""
    total = accumulator[:, 0].sum()
    if total <= 0:
        return float("nan")
    present = accumulator[:, 0] > 0
    gaps = np.abs(accumulator[present, 2] - accumulator[present, 1])
    return float(gaps.sum() / total)


def _ece_computations(
    bins: int = 15,
    name: str = ECE_NAME,
    eval_config: Optional[config_pb2.EvalConfig] = None,
    model_names: Optional[list[str]] = None,
    output_names: Optional[list[str]] = None,
    sub_keys: Optional[list[Optional[metric_types.SubKey]]] = None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    del sub_keys
    computations = []
    for model_name in model_names or [""]:
        for output_name in output_names or [""]:
            key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                         example_weighted=example_weighted)
            combiner = _CalibrationBinsCombiner(key, eval_config, example_weighted, bins)
            computations.append(metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=combiner))
    return computations


class _CalibrationBinsCombiner(beam.CombineFn):
    def __init__(self, key: metric_types.MetricKey, eval_config, example_weighted: bool, bins: int):
        self._key = key
        self._eval_config = eval_config
        self._example_weighted = example_weighted
        self._bins = bins

    def create_accumulator(self) -> np.ndarray:
        return np.zeros((self._bins, 3), dtype=np.float64)

    def add_input(self, accumulator: np.ndarray, element: metric_types.StandardMetricInputs) -> np.ndarray:
        label, prediction, weight = next(
            metric_util.to_label_prediction_example_weight(
                element, eval_config=self._eval_config, model_name=self._key.model_name,
                output_name=self._key.output_name, example_weighted=self._example_weighted, flatten=False,
                require_single_example_weight=True,
            )
        )
        prediction = np.asarray(prediction, dtype=np.float64).reshape(-1)
        confidence = float(prediction.max())
        correct = float(int(np.argmax(prediction)) == int(np.asarray(label).reshape(-1)[0]))
        w = float(np.asarray(weight).reshape(-1)[0])
        index = min(int(confidence * self._bins), self._bins - 1)
        accumulator[index] += (w, w * confidence, w * correct)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[np.ndarray]) -> np.ndarray:
        return np.sum(list(accumulators), axis=0)

    def extract_output(self, accumulator: np.ndarray) -> Dict[metric_types.MetricKey, float]:
        return {self._key: ece_from_bins(accumulator)}
