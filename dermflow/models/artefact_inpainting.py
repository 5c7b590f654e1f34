"""Inpainting thin dark artefacts out of the model input: hair, ruler ticks and lines, ink strokes (DullRazor-like).

    x = ArtefactInpainting(name="artefact_inpainting")(pixels)   # float32 RGB 0..255 -> the same, artefacts closed

The layer sits inside the classifier, in front of the preprocessing (``model.inpaint_artefacts``),
so training, TFMA's ``serving_default`` and scoring's ``gradcam_images`` all see the same input: the
one image path stays one. Per channel, the morphological closing (a max filter then a min filter,
a square of ``size_fraction`` of the side) fills every dark structure narrower than the square with
its surroundings (Lee et al. 1997, DullRazor; Bissoto et al. 2020 inpaint rulers and ink the same
way). Where the closing lifts the mean intensity by more than ``threshold`` (0..255), a soft mask,
widened by one pixel, takes the closed value; elsewhere the input passes unchanged. Its cost: dark
dots, globules and network lines inside a lesion are thin and dark too, and are softened with them.
No weights; the trunk-feature cache treats it as part of the frozen trunk.
"""
from __future__ import annotations

import keras
import tensorflow as tf

DEFAULT_SIZE_FRACTION = 0.05
DEFAULT_THRESHOLD = 18.0


def _odd_window(side: int, fraction: float) -> int:
    return max(3, int(round(side * fraction)) // 2 * 2 + 1)


@keras.saving.register_keras_serializable(package="dermflow")
class ArtefactInpainting(keras.layers.Layer):
    def __init__(self, size_fraction: float = DEFAULT_SIZE_FRACTION, threshold: float = DEFAULT_THRESHOLD, **kwargs):
        super().__init__(**kwargs)
        self.size_fraction = float(size_fraction)
        self.threshold = float(threshold)

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        window = _odd_window(int(x.shape[1] or 0) or 224, self.size_fraction)
        dilated = tf.nn.max_pool2d(x, window, 1, "SAME")
        closed = -tf.nn.max_pool2d(-dilated, window, 1, "SAME")
        lift = tf.reduce_mean(closed - x, axis=-1, keepdims=True)
        mask = tf.sigmoid((lift - self.threshold) / 3.0)
        mask = tf.nn.max_pool2d(mask, 3, 1, "SAME")
        return tf.cast(x + (closed - x) * mask, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size_fraction": self.size_fraction, "threshold": self.threshold}
