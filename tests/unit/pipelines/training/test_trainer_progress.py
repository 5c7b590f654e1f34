"""The Trainer's resumable progress: a stable key, counted runs, one row per epoch, finished phases."""
from __future__ import annotations

import json

import keras
import numpy as np

from dermflow.pipelines.training.trainer_progress import TrainingProgress, checkpoint_key


def test_key_depends_on_the_data_and_the_config_not_on_file_order():
    key = checkpoint_key(["a/1", "a/2"], ["b/1"], '{"x": 1}')
    assert key == checkpoint_key(["a/2", "a/1"], ["b/1"], '{"x": 1}')
    assert key != checkpoint_key(["a/1", "a/3"], ["b/1"], '{"x": 1}')
    assert key != checkpoint_key(["a/1", "a/2"], ["b/1"], '{"x": 2}')


def test_each_open_counts_a_run_and_keeps_the_history(tmp_path):
    first = TrainingProgress.open(tmp_path / "p")
    first.record_epoch({"epoch": 0, "phase": 1, "loss": 2.0})
    first.record_epoch({"epoch": 1, "phase": 1, "loss": 1.5})
    second = TrainingProgress.open(tmp_path / "p")
    second.record_epoch({"epoch": 1, "phase": 1, "loss": 1.2})  # re-run epoch: replaces the row
    second.record_epoch({"epoch": 2, "phase": 2, "loss": 1.0})
    assert (first.run, second.run) == (1, 2)
    assert [(row["epoch"], row["loss"]) for row in second.history] == [(0, 2.0), (1, 1.2), (2, 1.0)]
    assert second.epochs_before(2) == 2
    assert json.loads((tmp_path / "p" / "progress.json").read_text())["runs"] == 2


def test_a_finished_phase_restores_its_weights(tmp_path):
    def model():
        inputs = keras.Input(shape=(3,))
        return keras.Model(inputs, keras.layers.Dense(2)(inputs))

    trained, fresh = model(), model()
    progress = TrainingProgress.open(tmp_path / "p")
    assert not progress.is_finished(1)
    progress.finish_phase(1, trained)
    assert TrainingProgress.open(tmp_path / "p").is_finished(1)
    progress.restore_phase(1, fresh)
    for a, b in zip(trained.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    progress.remove()
    assert not (tmp_path / "p").exists()
