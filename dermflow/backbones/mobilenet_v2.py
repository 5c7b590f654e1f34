"""MobileNetV2, the default backbone: ImageNet weights installed offline by ``dermflow weights install``."""
from __future__ import annotations

from dermflow.backbones.backbone_spec import BackboneSpec, ImageNetWeights


def build(inputs, alpha: float, weights_path: str | None):
    import keras

    return keras.applications.MobileNetV2(include_top=False, weights=weights_path, alpha=alpha, input_tensor=inputs).output


SPEC = BackboneSpec(
    "mobilenet_v2", build, gradcam_layer="out_relu", min_image_size=32,
    # Keras's own file expects [-1, 1]; the installed torchvision conversion records "torch" in its provenance.
    imagenet=ImageNetWeights("MobileNetV2", preprocessing="tf"),
    random_init_preprocessing="torch",
)
