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


def _photos(count: int, size: int = 48):
    import tensorflow as tf

    from dermflow.synthetic.photo_renderer import render_image

    pixels = np.stack([render_image("MEL", image_size=size, seed=1, index=i)[0] for i in range(count)]).astype("float32")
    return tf.data.Dataset.from_tensor_slices((pixels, np.arange(count, dtype=np.int32))), pixels


def test_artefacts_are_pasted_onto_the_train_dataset_at_the_configured_rate_and_seed():
    from dermflow.pipelines.training.trainer_augmentation import with_artefacts

    dataset, pixels = _photos(40)
    cfg = TrainConfig(artefact_augmentation=True, artefact_kinds=["ruler", "patch"], artefact_probability=0.5, seed=3)
    first = [(x.numpy(), int(y)) for x, y in with_artefacts(dataset, cfg)]
    second = [x.numpy() for x, _ in with_artefacts(dataset, cfg)]
    assert [y for _, y in first] == list(range(40))
    changed = [not np.array_equal(x, original) for (x, _), original in zip(first, pixels)]
    assert 20 <= sum(changed) <= 38  # 1 - 0.5 ** 2 = 75% get a ruler, a patch or both
    assert all(np.array_equal(a, b) for (a, _), b in zip(first, second))
    assert all(x.dtype == np.float32 and x.shape == (48, 48, 3) for x, _ in first)


def test_no_artefacts_when_off_or_without_augmentation():
    from dermflow.pipelines.training.trainer_augmentation import artefact_painter, with_artefacts

    dataset, _ = _photos(2)
    assert with_artefacts(dataset, TrainConfig(artefact_augmentation=False)) is dataset
    assert artefact_painter(TrainConfig(augment=False)) is None
    assert artefact_painter(TrainConfig(artefact_probability=0.0)) is None
    assert artefact_painter(TrainConfig()).probability == 0.2
