"""Backbones, inlined into the caller's graph: each takes the preprocessed image tensor and
returns the last convolutional feature map plus the name of the layer Grad-CAM should use.

``mobilenet_v2`` gets its weights from :mod:`dermflow.weights` (ImageNet, offline).
``inception_v3`` and ``vgg19`` come from keras.applications with ``weights: none`` or a
weights file. ``small_cnn`` is a few conv blocks trained from scratch, for tests and quick experiments.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras

from dermflow.config import ModelConfig
from dermflow.weights.backbone_weights import BackboneWeights, WeightsNotFoundError, resolve_mobilenet_v2_weights

# Keras's own ImageNet weights for these were trained on [-1, 1] inputs ("tf"); VGG19's used
# Caffe preprocessing, so a VGG19 weights file must come with its own provenance if it matters.
KERAS_APPLICATION_PREPROCESSING = "tf"
SMALL_CNN_FILTERS: tuple[int, ...] = (32, 64, 128)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone: where its weights come from and how it is wired."""

    resolve_weights: Callable[[ModelConfig, str | Path | None], BackboneWeights]
    build: Callable[[keras.KerasTensor, ModelConfig, BackboneWeights], keras.KerasTensor]
    gradcam_layer: str


def _file_or_none_weights(backbone: str) -> Callable[[ModelConfig, str | Path | None], BackboneWeights]:
    def resolve(model_cfg: ModelConfig, keras_home: str | Path | None) -> BackboneWeights:
        if model_cfg.weights == "none":
            return BackboneWeights(None, KERAS_APPLICATION_PREPROCESSING, {"source": "none (random initialisation)"})
        if model_cfg.weights == "imagenet":
            raise WeightsNotFoundError(
                f"model.backbone {backbone!r} has no offline ImageNet weights here: set model.weights to 'none' "
                "or to a Keras .h5 weights file for this architecture"
            )
        path = Path(model_cfg.weights).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"model.weights points to {path}, which is not a file")
        return BackboneWeights(path, KERAS_APPLICATION_PREPROCESSING, {"source": str(path), "backbone": backbone})

    return resolve


def _mobilenet_v2_weights(model_cfg: ModelConfig, keras_home: str | Path | None) -> BackboneWeights:
    return resolve_mobilenet_v2_weights(model_cfg.weights, model_cfg.alpha, model_cfg.image_size, keras_home=keras_home)


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


def _small_cnn_weights(model_cfg: ModelConfig, keras_home: str | Path | None) -> BackboneWeights:
    if model_cfg.weights != "none":
        raise WeightsNotFoundError("model.backbone 'small_cnn' has no pretrained weights: set model.weights=none")
    return BackboneWeights(None, KERAS_APPLICATION_PREPROCESSING, {"source": "none (random initialisation)"})


BACKBONES: dict[str, BackboneSpec] = {
    "mobilenet_v2": BackboneSpec(_mobilenet_v2_weights, _mobilenet_v2, "out_relu"),
    "inception_v3": BackboneSpec(_file_or_none_weights("inception_v3"), _inception_v3, "mixed10"),
    "vgg19": BackboneSpec(_file_or_none_weights("vgg19"), _vgg19, "block5_conv4"),
    "small_cnn": BackboneSpec(_small_cnn_weights, _small_cnn, f"block{len(SMALL_CNN_FILTERS)}_relu"),
}


def backbone_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(f"unknown model.backbone {name!r}; known: {sorted(BACKBONES)}")
    return BACKBONES[name]
