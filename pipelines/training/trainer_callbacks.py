"""Keras callbacks of the Trainer: ISIC balanced accuracy on the eval split, and the epoch history.

``EvalSetMetrics`` predicts the eval split once per epoch and puts ``val_loss``, ``val_accuracy``
and ``val_balanced_accuracy`` (ISIC's balanced multiclass accuracy: the mean per-class recall of
argmax predictions) into the epoch logs, where EarlyStopping and TensorBoard read them. It must
come before them in the callback list.

``EpochHistory`` records one row per epoch (metrics, phase, timing) and hands every row to a
``sink`` at once, so a killed Trainer loses nothing already trained. ``EpochScalarSummaries``
writes the epoch metrics for TensorBoard.
"""
from __future__ import annotations

import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def isic_balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Mean recall over the classes present in ``labels`` (ISIC 2019's balanced multiclass accuracy)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    classes = np.unique(labels)
    if classes.size == 0:
        return float("nan")
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in classes]))


def per_class_recall(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> list[float | None]:
    """Recall of each class index; None for a class absent from ``labels``."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return [float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else None for c in range(num_classes)]


class SwapInAveragedWeights(keras.callbacks.SwapEMAWeights):
    """Keras's ``SwapEMAWeights(swap_on_epoch=True)``, resumable: from each epoch's end to the next
    epoch's start the model holds the optimizer's moving average of its weights, so the eval-set
    metrics, early stopping's best weights and the backups all see the averaged weights.

    A backup is taken at an epoch's end, so a fit resumed from one (the optimizer has taken steps
    before the first epoch starts) begins with the averaged weights in the model, and swaps them out.
    """

    def __init__(self):
        super().__init__(swap_on_epoch=True)
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch:
            self._first_epoch = False
            self._ema_weights_in_model = int(self.model.optimizer.iterations.numpy()) > 0
        super().on_epoch_begin(epoch, logs)


class EvalSetMetrics(keras.callbacks.Callback):
    """Adds val_loss, val_accuracy and val_balanced_accuracy to the logs at each epoch end."""

    def __init__(self, eval_data: tf.data.Dataset):
        super().__init__()
        self._pixels = eval_data.map(lambda pixels, _: pixels)
        self._labels = np.concatenate([labels for _, labels in eval_data.as_numpy_iterator()])

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        probabilities = np.asarray(self.model.predict(self._pixels, verbose=0), dtype=np.float64)
        predicted = probabilities.argmax(axis=1)
        picked = probabilities[np.arange(len(self._labels)), self._labels]
        logs["val_loss"] = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
        logs["val_accuracy"] = float(np.mean(predicted == self._labels))
        logs["val_balanced_accuracy"] = isic_balanced_accuracy(self._labels, predicted)


class EpochHistory(keras.callbacks.Callback):
    """One row per finished epoch: the logs plus ``phase``, ``epoch``, ``trainer_run`` and timing.

    Epochs are numbered across phases (``fit(initial_epoch=...)``); ``phase_first_epoch`` gives
    ``phase_epoch``. ``images_per_step`` (the global batch) turns the timed training steps into
    ``train_images``; ``train_seconds`` covers the training steps only, not the eval-set metrics.
    """

    def __init__(
        self,
        phase: int,
        phase_first_epoch: int,
        trainer_run: int,
        images_per_step: int,
        sink: Callable[[dict], None],
    ):
        super().__init__()
        self._phase, self._first, self._run = phase, phase_first_epoch, trainer_run
        self._images_per_step, self._sink = images_per_step, sink
        self._epoch_start = self._last_step_end = 0.0
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._last_step_end = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._last_step_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {key: float(value) for key, value in (logs or {}).items() if np.ndim(value) == 0}
        row.update(
            epoch=epoch,
            phase_epoch=epoch - self._first,
            phase=self._phase,
            trainer_run=self._run,
            train_steps=self._steps,
            train_images=self._steps * self._images_per_step,
            train_seconds=self._last_step_end - self._epoch_start,
            epoch_seconds=time.perf_counter() - self._epoch_start,
        )
        self._sink(row)


class EpochScalarSummaries(keras.callbacks.Callback):
    """TensorBoard scalars per epoch, as Keras's TensorBoard callback lays them out.

    ``<log_dir>/train`` gets ``epoch_<metric>``, ``<log_dir>/validation`` the ``val_`` ones. It
    writes with TensorFlow's own summary ops, because ``keras.callbacks.TensorBoard`` needs the
    ``tensorboard`` package, which the TensorFlow 2.21 stack does not install.
    """

    def __init__(self, log_dir: str):
        super().__init__()
        self._log_dir = log_dir
        self._writers: dict[str, tf.summary.SummaryWriter] = {}
        self._metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        )

    def _writer(self, run: str) -> tf.summary.SummaryWriter:
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(f"{self._log_dir}/{run}")
        return self._writers[run]

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if np.ndim(value) != 0:
                continue
            run, name = ("validation", key[len("val_"):]) if key.startswith("val_") else ("train", key)
            with self._writer(run).as_default():
                tf.summary.write(f"epoch_{name}", tf.constant(float(value)), step=epoch, metadata=self._metadata)

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
