"""ISIC balanced accuracy and the eval-set metrics callback."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from dermflow.pipelines.trainer_callbacks import EvalSetMetrics, isic_balanced_accuracy, per_class_recall


def test_balanced_accuracy_is_the_mean_recall_of_present_classes():
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 2])
    # recalls 3/4, 1/2, 1/1; plain accuracy would be 5/7
    assert isic_balanced_accuracy(labels, predicted) == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert per_class_recall(labels, predicted, 4) == [0.75, 0.5, 1.0, None]


def test_predicting_the_majority_class_scores_one_over_k():
    labels = np.array([0] * 90 + [1] * 5 + [2] * 5)
    assert isic_balanced_accuracy(labels, np.zeros(100, dtype=int)) == pytest.approx(1 / 3)


def test_eval_set_metrics_fill_the_logs_from_predictions():
    # A fixed "model": the probabilities are the inputs themselves.
    probabilities = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.9, 0.1]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1], dtype=np.int32)
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    callback = EvalSetMetrics(tf.data.Dataset.from_tensor_slices((probabilities, labels)).batch(3))
    callback.set_model(model)
    logs = {"loss": 1.0}
    callback.on_epoch_end(0, logs)
    assert logs["val_accuracy"] == pytest.approx(0.75)
    assert logs["val_balanced_accuracy"] == pytest.approx((1.0 + 0.5) / 2)
    assert logs["val_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.6, 0.7, 0.1])), rel=1e-5)
