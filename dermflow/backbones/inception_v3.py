"""InceptionV3: Keras's own ImageNet file, copied into $KERAS_HOME/models/ (nothing installs it offline)."""
from __future__ import annotations

from dermflow.backbones.backbone_spec import BackboneSpec, ImageNetWeights


def build(inputs, alpha: float, weights_path: str | None):
    import keras

    return keras.applications.InceptionV3(include_top=False, weights=weights_path, input_tensor=inputs).output


SPEC = BackboneSpec(
    "inception_v3", build, gradcam_layer="mixed10", min_image_size=75,
    imagenet=ImageNetWeights("InceptionV3", preprocessing="tf",
                             keras_file="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
)
