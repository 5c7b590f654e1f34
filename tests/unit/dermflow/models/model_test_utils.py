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


def coloured_square_images(count: int, size: int, square: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey noise with one square at a random place; its colour (red, green, blue) is the class.

    Returns pixels float32 [N, S, S, 3], labels [N] and the squares' top-left corners [N, 2].
    """
    rng = np.random.default_rng(seed)
    pixels = rng.normal(110, 20, (count, size, size, 3)).clip(0, 255).astype("float32")
    labels = rng.integers(0, 3, count)
    corners = rng.integers(0, size - square, (count, 2))
    for image, label, (row, col) in zip(pixels, labels, corners):
        image[row : row + square, col : col + square] = 40
        image[row : row + square, col : col + square, label] = 250
    return pixels, labels, corners
