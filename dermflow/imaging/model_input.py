"""The one image path: file bytes -> the tensor that reaches the network's first layer.

Every consumer goes through the two halves here, in this order:

1. :func:`prepare_image` (Pillow, no TensorFlow): any JPEG, PNG or DICOM file -> one upright
   JPEG whose longer side is at most ``max_side``, without metadata. A fitting upright 8-bit JPEG
   keeps its coded data; anything else is decoded, shrunk and re-encoded at ``jpeg_quality``.
   Ingest stores these bytes in the tf.Example; batch scoring and the web server apply the same
   function, with the settings recorded in the model, to the original file.
2. :func:`decode_and_resize` (in the TensorFlow graph): those JPEG bytes -> float32 RGB
   [S, S, 3] in 0..255, by ``tf.io.decode_image`` and one resize (:data:`RESIZE_METHOD`).
   Training, TFMA's ``serving_default``, every exported signature and scoring call it.

So for any file, the model input in scoring is bit-identical to what training and evaluation
saw for it after ingest.

    settings = ImagePathSettings.from_config(cfg.data)      # or read_export_image_path(saved_model_dir, max_pixels)
    prepared = prepare_image(file_bytes, settings)           # NormalizedJpeg (raises ImageRejected)
    pixels = decode_and_resize(tf.constant(prepared.data), image_size)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dermflow.imaging.jpeg_normalizer import NormalizedJpeg, normalized_jpeg

# Version 2: ingest's normalisation applied everywhere, then decode_image + antialiased bilinear.
# Version 1 (no record in the model) resized without antialiasing and scored from Pillow pixels.
IMAGE_PATH_VERSION = 2
DECODER = "tf.io.decode_image"
# Antialiased bilinear: a shrink from max_side (512 by default) to 225 averages every source pixel
# instead of sampling a quarter of them, so fine texture does not alias into the input.
RESIZE_METHOD = "bilinear_antialias"


class LegacyImagePathError(ValueError):
    """A model exported before its image path was recorded: scoring could not reproduce its input."""


@dataclass(frozen=True)
class ImagePathSettings:
    """The settings that decide the model input; recorded in the exported model's provenance."""

    max_side: int
    jpeg_quality: int
    max_pixels: int

    @classmethod
    def from_config(cls, data: Any) -> "ImagePathSettings":
        """From ``cfg.data`` (a :class:`dermflow.config.DataConfig`)."""
        return cls(data.max_side, data.jpeg_quality, data.max_image_pixels)

    def provenance(self) -> dict:
        return {
            "version": IMAGE_PATH_VERSION, "normalisation": "dermflow.imaging.model_input.prepare_image",
            "max_side": self.max_side, "jpeg_quality": self.jpeg_quality,
            "decoder": DECODER, "resize": RESIZE_METHOD,
        }

    @classmethod
    def from_provenance(cls, record: dict | None, max_pixels: int, model: str = "the model") -> "ImagePathSettings":
        """The settings a model was trained with; ``max_pixels`` is the caller's own safety limit."""
        if not record or record.get("version") != IMAGE_PATH_VERSION or record.get("resize") != RESIZE_METHOD:
            found = f"version {record.get('version')}" if record else "no record"
            raise LegacyImagePathError(
                f"{model} was exported with another image path ({found}; this dermflow uses version "
                f"{IMAGE_PATH_VERSION}, {RESIZE_METHOD}), so scoring could not feed it what it was evaluated on. "
                "Retrain it with this dermflow (dermflow train, or the retraining DAG)."
            )
        return cls(int(record["max_side"]), int(record["jpeg_quality"]), max_pixels)


def prepare_image(data: bytes, settings: ImagePathSettings) -> NormalizedJpeg:
    """File bytes -> the JPEG the model reads (first half of the path); raises ImageRejected."""
    return normalized_jpeg(data, settings.max_side, settings.jpeg_quality, settings.max_pixels)


def decode_and_resize(image_bytes, size: int):
    """Encoded image bytes (scalar string tensor) -> float32 [size, size, 3] RGB in 0..255."""
    import tensorflow as tf

    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    return resize_pixels(image, size)


def resize_pixels(image, size: int):
    """uint8 or float [H, W, 3] -> float32 [size, size, 3], with the resize of :data:`RESIZE_METHOD`."""
    import tensorflow as tf

    image = tf.ensure_shape(image, [None, None, 3])
    resized = tf.image.resize(tf.cast(image, tf.float32), [size, size], method="bilinear", antialias=True)
    return tf.ensure_shape(resized, [size, size, 3])


def decode_and_resize_batch(images, size: int):
    """Encoded image bytes [N] -> float32 [N, size, size, 3]."""
    import tensorflow as tf

    return tf.map_fn(
        lambda data: decode_and_resize(data, size),
        images,
        fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32),
    )
