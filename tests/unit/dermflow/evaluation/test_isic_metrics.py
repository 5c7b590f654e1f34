"""ISIC balanced multiclass accuracy, computed by TFMA itself on a DataFrame of labels and probabilities."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score
from tensorflow_model_analysis.api.model_eval_lib import analyze_raw_data
from tensorflow_model_analysis.proto import config_pb2 as tfma

from dermflow.evaluation.eval_result_reader import read_eval_metrics
from dermflow.evaluation.isic_metrics import balanced_accuracy_from_confusion, one_vs_rest_rates

MODULE = "dermflow.evaluation.isic_metrics"
LABELS = ["MEL", "NV", "BCC"]

# Hand-checked: argmax predictions 0,0,1 | 1,0 | 2 for labels 0,0,0 | 1,1 | 2.
HAND_LABELS = [0, 0, 0, 1, 1, 2]
HAND_PROBS = [[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8]]
HAND_BMA = (2 / 3 + 1 / 2 + 1 / 1) / 3
# Every argmax is right, but no probability reaches TFMA's default 0.5 threshold.
TIMID_LABELS = [0, 1, 2, 0, 1, 2]
TIMID_PROBS = [[0.4, 0.3, 0.3], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]] * 2


def _rows(group, labels, probs):
    return [{"group": group, "label": label, "probabilities": np.asarray(p, np.float32)} for label, p in zip(labels, probs)]


@pytest.fixture(scope="module")
def random_case():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, 60)
    probs = rng.dirichlet([1.0, 1.0, 1.0], 60)
    probs[np.arange(60) % 3 == 0, labels[np.arange(60) % 3 == 0]] += 1.0  # make it better than chance
    return labels, probs / probs.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tfma_metrics(random_case, tmp_path_factory):
    labels, probs = random_case
    frame = pd.DataFrame(
        _rows("hand", HAND_LABELS, HAND_PROBS) + _rows("timid", TIMID_LABELS, TIMID_PROBS) + _rows("random", labels, probs)
    )
    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label", prediction_key="probabilities")],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="IsicBalancedAccuracy", module=MODULE),
                    tfma.MetricConfig(class_name="ArgmaxAccuracy", module=MODULE),
                    tfma.MetricConfig(class_name="ArgmaxClassMetrics", module=MODULE, config=json.dumps({"num_classes": 3})),
                    tfma.MetricConfig(class_name="ExpectedCalibrationError", module=MODULE, config=json.dumps({"bins": 15})),
                ]
            ),
            tfma.MetricsSpec(
                metrics=[tfma.MetricConfig(class_name="BalancedAccuracy")],
                binarize=tfma.BinarizationOptions(class_ids={"values": [0, 1, 2]}),
            ),
        ],
        slicing_specs=[tfma.SlicingSpec(feature_keys=["group"])],
    )
    out = tmp_path_factory.mktemp("tfma")
    analyze_raw_data(frame, eval_config, output_path=str(out))
    return read_eval_metrics(str(out), LABELS)["slices"]


def test_balanced_accuracy_matches_a_hand_computation(tfma_metrics):
    assert tfma_metrics["group=hand"]["isic_balanced_accuracy"] == pytest.approx(HAND_BMA)
    assert tfma_metrics["group=hand"]["accuracy"] == pytest.approx(4 / 6)


def test_balanced_accuracy_matches_scikit_learn(tfma_metrics, random_case):
    labels, probs = random_case
    expected = balanced_accuracy_score(labels, probs.argmax(axis=1))
    assert tfma_metrics["group=random"]["isic_balanced_accuracy"] == pytest.approx(expected)


def test_per_class_sensitivity_and_specificity_are_one_vs_rest_over_argmax(tfma_metrics):
    mel = tfma_metrics["group=hand"]["per_class"]["MEL"]
    assert mel["sensitivity"] == pytest.approx(2 / 3)
    assert mel["specificity"] == pytest.approx(2 / 3)  # one NV of three non-MEL is called MEL
    assert mel["precision"] == pytest.approx(2 / 3)


def test_per_class_f1_and_jaccard_match_scikit_learn(tfma_metrics, random_case):
    from sklearn.metrics import f1_score, jaccard_score

    labels, probs = random_case
    per_class = tfma_metrics["group=random"]["per_class"]
    f1 = f1_score(labels, probs.argmax(axis=1), average=None)
    jaccard = jaccard_score(labels, probs.argmax(axis=1), average=None)
    assert [per_class[label]["f1"] for label in LABELS] == pytest.approx(list(f1))
    assert [per_class[label]["jaccard"] for label in LABELS] == pytest.approx(list(jaccard))
    assert tfma_metrics["group=hand"]["per_class"]["MEL"]["f1"] == pytest.approx(2 / 3)
    assert tfma_metrics["group=hand"]["per_class"]["MEL"]["jaccard"] == pytest.approx(2 / 4)


def test_expected_calibration_error_matches_the_numpy_one(tfma_metrics, random_case):
    from dermflow.trust import expected_calibration_error

    labels, probs = random_case
    expected = expected_calibration_error(probs.astype(np.float32), labels, bins=15)
    assert tfma_metrics["group=random"]["expected_calibration_error"] == pytest.approx(expected, abs=1e-5)
    assert tfma_metrics["group=timid"]["expected_calibration_error"] == pytest.approx(1.0 - 0.4, abs=1e-5)


def test_differs_from_tfma_balanced_accuracy_on_correct_but_unconfident_predictions(tfma_metrics):
    timid = tfma_metrics["group=timid"]
    assert timid["isic_balanced_accuracy"] == pytest.approx(1.0)
    tfma_values = [timid["per_class"][label]["balanced_accuracy"] for label in LABELS]
    assert tfma_values == pytest.approx([0.5, 0.5, 0.5])  # TPR 0, TNR 1 at threshold 0.5


def test_absent_classes_are_left_out_and_an_empty_matrix_is_nan():
    assert balanced_accuracy_from_confusion(np.array([[3, 1, 0], [0, 0, 0], [0, 0, 2]])) == pytest.approx((0.75 + 1.0) / 2)
    assert np.isnan(balanced_accuracy_from_confusion(np.zeros((3, 3))))
    assert np.isnan(one_vs_rest_rates(np.zeros((2, 2)), 5)["sensitivity"])
