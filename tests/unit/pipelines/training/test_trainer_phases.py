"""Trainer set-up decisions: phases, trainable layers, strategy, mixed precision, chief."""
from __future__ import annotations

import json

import pytest

from dermflow.config import ModelConfig, TrainConfig
from dermflow.models import build_classifier
from dermflow.pipelines.training.trainer_module import (
    is_chief,
    select_strategy,
    set_phase_trainable,
    training_phases,
    use_mixed_precision,
)


def test_phases_are_head_then_fine_tuning_at_their_own_rates():
    cfg = TrainConfig(head_epochs=2, fine_tune_epochs=4, fine_tune_layers=12, learning_rate=1e-3, fine_tune_learning_rate=1e-5)
    head, fine = training_phases(cfg)
    assert (head.number, head.epochs, head.learning_rate, head.trainable_top_layers) == (1, 2, 1e-3, None)
    assert (fine.number, fine.epochs, fine.learning_rate, fine.trainable_top_layers) == (2, 4, 1e-5, 12)


def test_fine_tuning_can_decay_its_rate_to_zero_over_its_planned_steps():
    constant, cosine = (
        training_phases(TrainConfig(fine_tune_epochs=4, fine_tune_learning_rate=1e-4, fine_tune_schedule=schedule,
                                    fine_tune_warmup_epochs=0))[1]
        for schedule in ("constant", "cosine")
    )
    assert constant.learning_rate_at(steps_per_epoch=10) == 1e-4
    rate = cosine.learning_rate_at(steps_per_epoch=10)
    assert [round(float(rate(step)), 9) for step in (0, 20, 40)] == [1e-4, 5e-5, 0.0]


@pytest.mark.parametrize(("schedule", "after_warmup"), [("constant", [1e-4, 1e-4, 1e-4]), ("cosine", [1e-4, 5e-5, 0.0])])
def test_fine_tuning_warms_up_from_zero_then_follows_its_schedule(schedule, after_warmup):
    phase = training_phases(TrainConfig(fine_tune_epochs=5, fine_tune_learning_rate=1e-4, fine_tune_schedule=schedule,
                                        fine_tune_warmup_epochs=1))[1]
    rate = phase.learning_rate_at(steps_per_epoch=10)
    assert [round(float(rate(step)), 9) for step in (0, 5)] == [0.0, 5e-5]
    assert [round(float(rate(step)), 9) for step in (10, 30, 50)] == after_warmup


def test_warmup_takes_at_most_half_of_a_short_phase():
    phase = training_phases(TrainConfig(fine_tune_epochs=1, fine_tune_learning_rate=1e-4, fine_tune_warmup_epochs=3))[1]
    rate = phase.learning_rate_at(steps_per_epoch=10)
    assert [round(float(rate(step)), 9) for step in (0, 5, 10)] == [0.0, 1e-4, 0.0]


def test_the_moving_average_spans_the_configured_epochs_whatever_their_length():
    assert TrainConfig(ema_epochs=1.0).ema_momentum(steps_per_epoch=100) == pytest.approx(0.99)
    assert TrainConfig(ema_epochs=2.0).ema_momentum(steps_per_epoch=4) == pytest.approx(0.875)
    assert TrainConfig(ema_epochs=0.5).ema_momentum(steps_per_epoch=1) == 0.0


def test_a_random_backbone_is_trained_whole_batch_norm_included():
    built = build_classifier(ModelConfig(backbone="small_cnn", weights="none", image_size=32), 3)
    set_phase_trainable(built, training_phases(TrainConfig())[0])
    assert all(layer.trainable for layer in built.model.layers)


def test_on_this_cpu_machine_one_replica_and_no_mixed_precision():
    assert select_strategy().num_replicas_in_sync == 1
    assert use_mixed_precision("auto") is False
    assert use_mixed_precision("on") is True and use_mixed_precision("off") is False


@pytest.mark.parametrize(
    ("tf_config", "chief"),
    [
        (None, True),
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
        ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, False),
        ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}, True),
    ],
)
def test_only_the_chief_writes(monkeypatch, tf_config, chief):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert is_chief() is chief
