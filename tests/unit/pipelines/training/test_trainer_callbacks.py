"""ISIC balanced accuracy, the eval-set metrics callback and the swap of the averaged weights."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from dermflow.pipelines.training.trainer_callbacks import (
    EvalSetMetrics,
    SwapInAveragedWeights,
    isic_balanced_accuracy,
    per_class_recall,
)


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


MOMENTUM = 0.5
FEATURES = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
TARGETS = np.array([[1.0], [-1.0], [2.0]], dtype=np.float32)


def _averaging_model() -> keras.Model:
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=MOMENTUM), loss="mse")
    return model


def _one_example_batches() -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((FEATURES, TARGETS)).batch(1)


class _WeightRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.after_step, self.epoch_begin, self.epoch_end = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        self.after_step.append(self.model.get_weights()[0].copy())

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_begin.append(self.model.get_weights()[0].copy())

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_end.append(self.model.get_weights()[0].copy())


def _moving_average(steps: list[np.ndarray]) -> np.ndarray:
    average = steps[0]
    for weights in steps[1:]:
        average = MOMENTUM * average + (1 - MOMENTUM) * weights
    return average


def test_between_epochs_the_model_holds_the_moving_average_and_trains_its_raw_weights():
    model, recorder = _averaging_model(), _WeightRecorder()
    model.fit(_one_example_batches(), epochs=2, callbacks=[SwapInAveragedWeights(), recorder], verbose=0)
    raw = recorder.after_step
    np.testing.assert_allclose(recorder.epoch_end[0], _moving_average(raw[:3]), rtol=1e-5)
    np.testing.assert_allclose(recorder.epoch_begin[1], raw[2], rtol=1e-6)
    assert not np.allclose(raw[2], _moving_average(raw[:3]))
    np.testing.assert_allclose(model.get_weights()[0], _moving_average(raw), rtol=1e-5)


class _Interrupt(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if len(self.model.history.epoch) == 1 and batch == 1:
            raise KeyboardInterrupt


def test_a_fit_resumed_from_a_backup_ends_where_an_uninterrupted_one_does(tmp_path):
    def callbacks(backup: str) -> list[keras.callbacks.Callback]:
        return [SwapInAveragedWeights(), keras.callbacks.BackupAndRestore(str(tmp_path / backup))]

    uninterrupted = _averaging_model()
    uninterrupted.fit(_one_example_batches(), epochs=3, callbacks=callbacks("a"), verbose=0)

    with pytest.raises(KeyboardInterrupt):
        _averaging_model().fit(_one_example_batches(), epochs=3, callbacks=callbacks("b") + [_Interrupt()], verbose=0)
    resumed = _averaging_model()
    resumed.fit(_one_example_batches(), epochs=3, callbacks=callbacks("b"), verbose=0)

    np.testing.assert_allclose(resumed.get_weights()[0], uninterrupted.get_weights()[0], rtol=1e-5)
