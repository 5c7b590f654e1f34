"""Augmentation runs in training only, in front of a classifier it does not change."""
from __future__ import annotations

import keras
import numpy as np

from dermflow.config import TrainConfig
from dermflow.pipelines.training.trainer_augmentation import training_model


def _classifier() -> keras.Model:
    pixels = keras.Input(shape=(16, 16, 3), name="pixels")
    return keras.Model(pixels, keras.layers.Dense(3)(keras.layers.Flatten()(pixels)))


def _pixel_echo() -> keras.Model:
    """A stand-in classifier that outputs the pixels it receives."""
    pixels = keras.Input(shape=(16, 16, 3), name="pixels")
    return keras.Model(pixels, keras.layers.Flatten()(pixels))


def test_augmentation_is_active_in_training_only():
    model = training_model(_pixel_echo(), TrainConfig(augment=True))
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    flat = pixels.reshape(4, -1)
    np.testing.assert_allclose(model(pixels, training=False), flat, rtol=1e-6)
    augmented = np.asarray(model(pixels, training=True))
    assert augmented.shape == flat.shape and not np.allclose(augmented, flat, atol=1.0)


def test_the_classifier_shares_its_weights_and_has_no_augmentation():
    classifier = _classifier()
    model = training_model(classifier, TrainConfig(augment=True))
    assert {id(v) for v in classifier.weights} <= {id(v) for v in model.weights}
    assert "augmentation" not in [layer.name for layer in classifier.layers]
    assert training_model(classifier, TrainConfig(augment=False)) is classifier
