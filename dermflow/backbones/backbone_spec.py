"""What one backbone declaration holds (see :mod:`dermflow.backbones`).

    SPEC = BackboneSpec("vgg19", build, gradcam_layer="block5_conv4", min_image_size=32,
                        imagenet=ImageNetWeights("VGG19", "caffe", keras_file="vgg19_..._notop.h5"))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/{backbone}/{file}"


@dataclass(frozen=True)
class ImageNetWeights:
    """Where a backbone's ImageNet weights come from (``model.weights: imagenet``), and what input they expect."""

    keras_application: str  # the keras.applications class, as messages name it
    preprocessing: str  # what these weights were trained on: "tf" ([-1, 1]) or "caffe" (BGR, mean-subtracted)
    # Keras's own file, without the top, in $KERAS_HOME/models/ (Keras downloads it where there is internet).
    # None: `dermflow weights install` installs the file offline (MobileNetV2; named by width and input size).
    keras_file: str | None = None

    def download_url(self, backbone: str) -> str | None:
        return KERAS_WEIGHTS_URL.format(backbone=backbone, file=self.keras_file) if self.keras_file else None


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone: how it is wired into the classifier, where Grad-CAM looks, and the weights it starts from."""

    name: str  # the value of model.backbone
    # (preprocessed input tensor, alpha=width multiplier, weights_path=file or None) -> the last convolutional
    # feature map, built inline in the caller's graph; the builder imports Keras itself.
    build: Callable[..., Any]
    gradcam_layer: str  # default of model.gradcam_layer
    min_image_size: int  # the smallest square input it accepts (Keras fails deep inside the build below it)
    imagenet: ImageNetWeights | None  # None: no pretrained weights exist, model.weights must be none
    random_init_preprocessing: str = "tf"  # the preprocessing layer's mode with model.weights: none
