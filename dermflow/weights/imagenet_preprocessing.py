"""The input normalisation that matches a backbone's ImageNet weights, as a Keras layer.

It sits inside the model graph, so a saved model carries the preprocessing its weights were
trained with and scoring can never apply the wrong one. Input: float RGB in 0..255.

- ``torch`` (torchvision weights): ``(x / 255 - mean) / std`` with the ImageNet mean and std.
- ``tf`` (Keras's own weights): ``x / 127.5 - 1``, i.e. [-1, 1].
- ``caffe`` (Keras's own VGG19 weights): RGB to BGR, minus the ImageNet mean in 0..255, not scaled.
"""
from __future__ import annotations

import keras
from keras import ops

from dermflow.weights.backbone_weights import PREPROCESSING_MODES

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN: tuple[float, float, float] = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="dermflow")
class ImageNetPreprocessing(keras.layers.Layer):
    def __init__(self, mode: str = "torch", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(f"ImageNetPreprocessing: mode must be one of {PREPROCESSING_MODES}, not {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=self.compute_dtype)
        # One affine map: (x/255 - mean)/std == x * scale + offset.
        scale = ops.convert_to_tensor([1.0 / (255.0 * s) for s in IMAGENET_STD], dtype=self.compute_dtype)
        offset = ops.convert_to_tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)], dtype=self.compute_dtype)
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
