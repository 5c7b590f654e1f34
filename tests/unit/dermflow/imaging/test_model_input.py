import io

import numpy as np
import tensorflow as tf
from PIL import Image

from dermflow.imaging.model_input import decode_and_resize, decode_and_resize_batch, resize_pixels


def encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def _gradient_image(height: int, width: int) -> np.ndarray:
    rows = np.linspace(0, 255, height)[:, None, None]
    cols = np.linspace(0, 255, width)[None, :, None]
    return np.broadcast_to((rows + cols) / 2, (height, width, 3)).astype(np.uint8)


def test_decode_and_resize_gives_float_rgb_of_the_requested_size():
    resized = decode_and_resize(tf.constant(encode(_gradient_image(30, 50))), 40)
    assert resized.shape == (40, 40, 3)
    assert resized.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(resized)) and float(tf.reduce_max(resized)) <= 255.0


def test_png_pixels_survive_decoding_and_a_same_size_resize_exactly():
    image = _gradient_image(32, 32)
    np.testing.assert_allclose(decode_and_resize(tf.constant(encode(image)), 32).numpy(), image.astype(np.float32))


def test_grey_png_becomes_three_equal_channels():
    grey = _gradient_image(20, 20)[:, :, 0]
    resized = decode_and_resize(tf.constant(encode(grey)), 20).numpy()
    assert resized.shape == (20, 20, 3)
    np.testing.assert_array_equal(resized[..., 0], resized[..., 2])


def test_decoding_matches_resizing_the_decoded_array():
    image = _gradient_image(33, 61)
    expected = resize_pixels(tf.constant(image), 24)
    np.testing.assert_allclose(decode_and_resize(tf.constant(encode(image)), 24), expected, atol=1e-4)


def test_batch_decoding_matches_one_by_one():
    images = [encode(_gradient_image(20 + 7 * i, 40 - 5 * i), fmt) for i, fmt in enumerate(["PNG", "JPEG", "PNG"])]
    batch = decode_and_resize_batch(tf.constant(images), 16)
    assert batch.shape == (3, 16, 16, 3)
    for index, data in enumerate(images):
        np.testing.assert_allclose(batch[index], decode_and_resize(tf.constant(data), 16), atol=1e-4)


def test_the_resize_antialiases_a_shrink():
    stripes = np.zeros((60, 60, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: an antialiased shrink averages them to grey
    resized = resize_pixels(tf.constant(stripes), 14).numpy()
    assert np.abs(resized - 127.5).max() < 10.0  # plain bilinear sampling leaves stripes 109 levels off grey
