"""The warm start: the last blessed model's weights and the shorter schedule when it fits, else one line and ImageNet."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from dermflow.config import load_config
from dermflow.models import build_classifier
from dermflow.pipelines.training.trainer_warm_start import warm_start

SMALL = ["model.backbone=small_cnn", "model.weights=none", "model.image_size=32", "train.head_epochs=2",
         "train.fine_tune_epochs=9", "retrain.warm_start_fine_tune_epochs=3", "retrain.warm_start_learning_rate=2e-5"]


def blessed(tmp_path, labels=("MEL", "NV", "BCC"), backbone="small_cnn", seed=1):
    """What the Trainer's base_model points at: a serving folder with assets.extra/ as the exporter writes it."""
    import keras

    keras.utils.set_random_seed(seed)
    built = build_classifier(load_config(None, SMALL).model, len(labels))
    extras = tmp_path / "Format-Serving" / "assets.extra"
    extras.mkdir(parents=True)
    built.model.save(extras / "model.keras")
    (extras / "labels.txt").write_text("\n".join(labels) + "\n")
    (extras / "weights_provenance.json").write_text(json.dumps({"backbone": backbone}))
    return str(tmp_path / "Format-Serving"), built


def weights_of(model):
    return [w for layer in model.layers for w in layer.get_weights()]


def test_a_matching_blessed_model_gives_its_weights_and_the_warm_schedule(tmp_path, caplog):
    base, old = blessed(tmp_path)
    cfg = load_config(None, SMALL)
    built = build_classifier(cfg.model, 3)
    with caplog.at_level(logging.INFO):
        warm = warm_start(built, cfg, base)
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(built.model), weights_of(old.model)))
    assert (warm.train.head_epochs, warm.train.fine_tune_epochs, warm.train.fine_tune_learning_rate) == (0, 3, 2e-5)
    assert cfg.train.fine_tune_epochs == 9, "the given config is left alone"
    assert "warm start from the last blessed model" in caplog.text and "fitted anew" in caplog.text


@pytest.mark.parametrize("labels, backbone, setting, reason", [
    (("MEL", "NV"), "small_cnn", "last_blessed", "its classes ['MEL', 'NV'] differ from ['MEL', 'NV', 'BCC']"),
    (("MEL", "NV", "BCC"), "mobilenet_v2", "last_blessed", "its backbone mobilenet_v2 differs from small_cnn"),
    (("MEL", "NV", "BCC"), "small_cnn", "none", None),
])
def test_a_model_that_does_not_fit_leaves_the_weights_and_says_why_in_one_line(tmp_path, caplog, labels, backbone,
                                                                               setting, reason):
    base, _ = blessed(tmp_path, labels, backbone)
    cfg = load_config(None, SMALL + [f"train.warm_start={setting}"])
    built = build_classifier(cfg.model, 3)
    before = weights_of(built.model)
    with caplog.at_level(logging.INFO):
        result = warm_start(built, cfg, base)
    assert result is cfg
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(built.model), before))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ([f"Trainer: no warm start ({reason}): training from the initial weights"] if reason else [])


def test_no_blessed_model_yet_is_a_plain_first_training(caplog):
    cfg = load_config(None, SMALL)
    built = build_classifier(cfg.model, 3)
    with caplog.at_level(logging.WARNING):
        assert warm_start(built, cfg, None) is cfg
    assert "there is no blessed model yet" in caplog.text


def test_another_width_is_refused_before_any_weight_changes(tmp_path, caplog):
    base, _ = blessed(tmp_path)
    cfg = load_config(None, SMALL + ["model.image_size=32"])
    built = build_classifier(cfg.model, 4)  # another output width than the saved model's 3 classes
    cfg = load_config(None, SMALL + ["labels.preset=all8", "labels.classes=[MEL, NV, BCC]"])
    before = weights_of(built.model)
    with caplog.at_level(logging.WARNING):
        assert warm_start(built, cfg, base) is cfg
    assert "other shapes" in caplog.text
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(built.model), before))
