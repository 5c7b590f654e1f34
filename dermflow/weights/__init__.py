"""Pretrained ImageNet weights for the backbones; MobileNetV2's also work offline.

    weights = resolve_backbone_weights(cfg.model.backbone, cfg.model.weights, cfg.model.alpha, cfg.model.image_size)
    backbone = keras.applications.MobileNetV2(..., weights=str(weights.path) if weights.path else None)
    x = ImageNetPreprocessing(weights.preprocessing)(inputs)

``install_imagenet_weights`` (``dermflow weights install``) puts the files where Keras looks.
Code that loads a saved ``.keras`` model imports ``dermflow.weights.imagenet_preprocessing``
(or ``ImageNetPreprocessing`` from here) first, so that the layer is registered.
"""
from dermflow.weights.backbone_weights import (
    BackboneWeights,
    WeightsNotFoundError,
    resolve_backbone_weights,
    resolve_mobilenet_v2_weights,
)
from dermflow.weights.imagenet_weights_installer import install_imagenet_weights

__all__ = [
    "BackboneWeights",
    "ImageNetPreprocessing",
    "WeightsNotFoundError",
    "install_imagenet_weights",
    "resolve_backbone_weights",
    "resolve_mobilenet_v2_weights",
]


def __getattr__(name: str):
    # The Keras layer imports TensorFlow (seconds); resolving or installing weights does not need it.
    if name == "ImageNetPreprocessing":
        from dermflow.weights.imagenet_preprocessing import ImageNetPreprocessing

        return ImageNetPreprocessing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
