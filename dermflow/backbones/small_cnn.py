"""A few Conv-BN-ReLU blocks trained from scratch, for tests and quick experiments: no pretrained weights."""
from __future__ import annotations

from dermflow.backbones.backbone_spec import BackboneSpec

FILTERS: tuple[int, ...] = (32, 64, 128)


def build(inputs, alpha: float, weights_path: str | None):
    """Max-pooled between blocks; the last ReLU is the Grad-CAM layer."""
    import keras

    x = inputs
    for index, filters in enumerate(FILTERS, start=1):
        if index > 1:
            x = keras.layers.MaxPooling2D(name=f"block{index}_pool")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{index}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"block{index}_bn")(x)
        x = keras.layers.ReLU(name=f"block{index}_relu")(x)
    return x


SPEC = BackboneSpec("small_cnn", build, gradcam_layer=f"block{len(FILTERS)}_relu", min_image_size=32, imagenet=None)
