"""Training-time augmentation as Keras layers, outside the exported classifier.

The augmentation runs in front of the classifier in a training-only wrapper model, so it is
active in ``fit`` only: Keras's random layers are identities at inference, and the classifier
that is exported never contains them.
"""
from __future__ import annotations

import keras

from dermflow.config import TrainConfig

PIXEL_RANGE = (0.0, 255.0)


def build_augmentation(train_cfg: TrainConfig) -> keras.Sequential:
    """Flips, rotation, zoom and colour jitter on float32 RGB pixels in 0..255."""
    seed = train_cfg.seed
    layers = [keras.layers.RandomFlip("horizontal_and_vertical", seed=seed, dtype="float32")]
    if train_cfg.augment_rotation > 0:
        layers.append(keras.layers.RandomRotation(train_cfg.augment_rotation, fill_mode="reflect", seed=seed + 1, dtype="float32"))
    if train_cfg.augment_zoom > 0:
        layers.append(keras.layers.RandomZoom(train_cfg.augment_zoom, fill_mode="reflect", seed=seed + 2, dtype="float32"))
    if train_cfg.augment_color > 0:
        layers += [
            keras.layers.RandomBrightness(train_cfg.augment_color, value_range=PIXEL_RANGE, seed=seed + 3, dtype="float32"),
            keras.layers.RandomContrast(train_cfg.augment_color, value_range=PIXEL_RANGE, seed=seed + 4, dtype="float32"),
        ]
    return keras.Sequential(layers, name="augmentation")


def training_model(classifier: keras.Model, train_cfg: TrainConfig) -> keras.Model:
    """The model ``fit`` trains: augmentation then ``classifier`` (whose weights it shares), or the classifier alone."""
    if not train_cfg.augment:
        return classifier
    pixels = keras.Input(shape=classifier.input_shape[1:], dtype="float32", name="pixels")
    augmented = build_augmentation(train_cfg)(pixels)
    return keras.Model(pixels, classifier(augmented), name="training_model")
