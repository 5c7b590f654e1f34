"""Helpers for the model tests (imported by the test modules beside this file)."""
from __future__ import annotations

import io

import keras
import numpy as np
from PIL import Image

TINY_SIZE = 48


def random_pixels(count: int, size: int = TINY_SIZE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3)).astype("float32")


def encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def calibrate_batchnorm(model: keras.Model, pixels: np.ndarray) -> None:
    """Sets every BatchNorm's moving statistics to those of ``pixels``.

    A randomly initialised MobileNetV2 in inference mode shrinks activations to ~1e-9 and
    predicts exactly uniform probabilities; after this its outputs differ between images.
    """
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [(layer.trainable, layer.momentum) for layer in norms]
    for layer in norms:
        layer.trainable, layer.momentum = True, 0.0
    model(pixels, training=True)
    for layer, (trainable, momentum) in zip(norms, saved):
        layer.trainable, layer.momentum = trainable, momentum
