"""VGG19: Keras's own ImageNet file (Caffe preprocessing), copied into $KERAS_HOME/models/."""
from __future__ import annotations

from dermflow.backbones.backbone_spec import BackboneSpec, ImageNetWeights


def build(inputs, alpha: float, weights_path: str | None):
    import keras

    return keras.applications.VGG19(include_top=False, weights=weights_path, input_tensor=inputs).output


SPEC = BackboneSpec(
    "vgg19", build, gradcam_layer="block5_conv4", min_image_size=32,
    imagenet=ImageNetWeights("VGG19", preprocessing="caffe", keras_file="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
)
