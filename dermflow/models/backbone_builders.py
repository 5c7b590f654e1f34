"""Backbones, inlined into the caller's graph: each takes the preprocessed image tensor and
returns the last convolutional feature map plus the name of the layer Grad-CAM should use.

Every backbone's weights come from :func:`dermflow.weights.resolve_backbone_weights` (ImageNet
MobileNetV2 offline; InceptionV3's and VGG19's Keras files in ``$KERAS_HOME/models/``; a weights
file; or none). ``small_cnn`` is a few conv blocks trained from scratch, for tests and quick experiments.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras

from dermflow.config import ModelConfig
from dermflow.weights.backbone_weights import BackboneWeights

SMALL_CNN_FILTERS: tuple[int, ...] = (32, 64, 128)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone: how it is wired, and where Grad-CAM looks."""

    build: Callable[[keras.KerasTensor, ModelConfig, BackboneWeights], keras.KerasTensor]
    gradcam_layer: str


def _weights_arg(weights: BackboneWeights) -> str | None:
    return str(weights.path) if weights.path else None


def _mobilenet_v2(x: keras.KerasTensor, model_cfg: ModelConfig, weights: BackboneWeights) -> keras.KerasTensor:
    return keras.applications.MobileNetV2(
        include_top=False, weights=_weights_arg(weights), alpha=model_cfg.alpha, input_tensor=x
    ).output


def _inception_v3(x: keras.KerasTensor, model_cfg: ModelConfig, weights: BackboneWeights) -> keras.KerasTensor:
    return keras.applications.InceptionV3(include_top=False, weights=_weights_arg(weights), input_tensor=x).output


def _vgg19(x: keras.KerasTensor, model_cfg: ModelConfig, weights: BackboneWeights) -> keras.KerasTensor:
    return keras.applications.VGG19(include_top=False, weights=_weights_arg(weights), input_tensor=x).output


def _small_cnn(x: keras.KerasTensor, model_cfg: ModelConfig, weights: BackboneWeights) -> keras.KerasTensor:
    """Conv-BN-ReLU blocks, max-pooled between blocks; the last ReLU is the Grad-CAM layer."""
    for index, filters in enumerate(SMALL_CNN_FILTERS, start=1):
        if index > 1:
            x = keras.layers.MaxPooling2D(name=f"block{index}_pool")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{index}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"block{index}_bn")(x)
        x = keras.layers.ReLU(name=f"block{index}_relu")(x)
    return x


BACKBONES: dict[str, BackboneSpec] = {
    "mobilenet_v2": BackboneSpec(_mobilenet_v2, "out_relu"),
    "inception_v3": BackboneSpec(_inception_v3, "mixed10"),
    "vgg19": BackboneSpec(_vgg19, "block5_conv4"),
    "small_cnn": BackboneSpec(_small_cnn, f"block{len(SMALL_CNN_FILTERS)}_relu"),
}


def backbone_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(f"unknown model.backbone {name!r}; known: {sorted(BACKBONES)}")
    return BACKBONES[name]
