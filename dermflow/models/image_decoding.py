"""The one image decoding + resize used by training, export and scoring alike.

Training (tf.data) and the exported signatures must see identical pixels, so both call
:func:`decode_and_resize`: any JPEG/PNG/GIF/BMP to RGB, then a bilinear resize to S x S
(the aspect ratio is not kept, and the source size never reaches the model).
"""
from __future__ import annotations

import tensorflow as tf


def decode_and_resize(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """Encoded image bytes (scalar string) -> float32 [size, size, 3] RGB in 0..255."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    return resize_pixels(image, size)


def resize_pixels(image: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 or float [H, W, 3] -> float32 [size, size, 3], resized the way decode_and_resize does."""
    image = tf.ensure_shape(image, [None, None, 3])
    resized = tf.image.resize(tf.cast(image, tf.float32), [size, size], method="bilinear")
    return tf.ensure_shape(resized, [size, size, 3])


def decode_and_resize_batch(images: tf.Tensor, size: int) -> tf.Tensor:
    """Encoded image bytes [N] -> float32 [N, size, size, 3]."""
    return tf.map_fn(
        lambda data: decode_and_resize(data, size),
        images,
        fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32),
    )
