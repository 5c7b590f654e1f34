"""Training-time augmentation, outside the exported classifier.

Flips, rotation, zoom and colour run as Keras layers in front of the classifier in a training-only
wrapper model, so they are active in ``fit`` only: Keras's random layers are identities at
inference, and the classifier that is exported never contains them. Artefacts
(``train.artefact_augmentation``: rulers, ink, dark corners, gel bubbles, hair, colour patches,
``dermflow.artefacts``) are pasted in the train dataset (``with_artefacts``), or into the cached
flips when the trunk-feature cache is on (``trainer_feature_cache``).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from dermflow.config import TrainConfig

PIXEL_RANGE = (0.0, 255.0)
ARTEFACT_STREAM = 303  # the artefacts' random stream: train.seed + this


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


def artefact_painter(train_cfg: TrainConfig):
    """The training artefacts (``train.artefact_augmentation``), or None when off."""
    if not (train_cfg.augment and train_cfg.artefact_augmentation and train_cfg.artefact_probability > 0):
        return None
    from dermflow.artefacts import RandomArtefacts

    return RandomArtefacts(kinds=tuple(train_cfg.artefact_kinds), probability=train_cfg.artefact_probability)


def with_artefacts(dataset: tf.data.Dataset, train_cfg: TrainConfig) -> tf.data.Dataset:
    """(pixels float32 [S, S, 3] in 0..255, label) -> the same with random artefacts pasted (``train.artefact_*``).

    Each element draws its seed from a seeded random stream, so the pasted artefacts follow
    ``train.seed`` and the dataset's order. The painters are numpy + Pillow (``tf.numpy_function``).
    """
    painter = artefact_painter(train_cfg)
    if painter is None:
        return dataset

    def paint(pixels: np.ndarray, seed: np.ndarray) -> np.ndarray:
        image = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
        return painter(image, seed=int(seed) % 2**31).astype(np.float32)

    def apply(element, seed):
        pixels, label = element
        painted = tf.numpy_function(paint, [pixels, seed], tf.float32, stateful=False)
        return tf.ensure_shape(painted, pixels.shape), label

    seeds = tf.data.Dataset.random(seed=train_cfg.seed + ARTEFACT_STREAM)
    return tf.data.Dataset.zip(dataset, seeds).map(apply, num_parallel_calls=tf.data.AUTOTUNE)
