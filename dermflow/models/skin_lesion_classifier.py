"""The skin-lesion classifier: one flat Keras functional graph.

    pixels (float32 RGB 0..255, S x S) [-> artefact_inpainting, model.inpaint_artefacts]
      -> preprocessing (matches the weights) -> backbone layers
      -> head_pool (global average) -> head_dropout -> probabilities (Dense softmax, float32)

Every backbone layer sits in the same graph as the head, so ``model.get_layer(gradcam_layer)``
is reachable for Grad-CAM and a saved ``.keras`` file reloads as the same flat model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import keras

from dermflow.backbones import backbone_spec
from dermflow.config import ModelConfig
from dermflow.models.artefact_inpainting import ArtefactInpainting
from dermflow.weights.backbone_weights import BackboneWeights, resolve_backbone_weights
from dermflow.weights.imagenet_preprocessing import ImageNetPreprocessing

INPUT_NAME = "pixels"
INPAINTING_LAYER = "artefact_inpainting"
PREPROCESSING_LAYER = "preprocessing"
HEAD_POOL_LAYER = "head_pool"
HEAD_DROPOUT_LAYER = "head_dropout"
OUTPUT_LAYER = "probabilities"
NON_BACKBONE_LAYERS = frozenset({INPUT_NAME, INPAINTING_LAYER, PREPROCESSING_LAYER, HEAD_POOL_LAYER, HEAD_DROPOUT_LAYER, OUTPUT_LAYER})


@dataclass(frozen=True)
class BuiltClassifier:
    model: keras.Model
    gradcam_layer: str
    weights: BackboneWeights
    backbone: str = "mobilenet_v2"

    @property
    def image_size(self) -> int:
        return int(self.model.input_shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])


def build_classifier(model_cfg: ModelConfig, num_classes: int, keras_home: str | Path | None = None) -> BuiltClassifier:
    """Builds the classifier for ``model_cfg.backbone`` with its weights; the backbone starts frozen."""
    if num_classes < 2:
        raise ValueError(f"build_classifier: num_classes must be at least 2, not {num_classes}")
    spec = backbone_spec(model_cfg.backbone)
    size = model_cfg.image_size
    weights = resolve_backbone_weights(model_cfg.backbone, model_cfg.weights, model_cfg.alpha, size, keras_home)
    pixels = keras.Input(shape=(size, size, 3), dtype="float32", name=INPUT_NAME)
    x = ArtefactInpainting(name=INPAINTING_LAYER)(pixels) if model_cfg.inpaint_artefacts else pixels
    x = ImageNetPreprocessing(weights.preprocessing, name=PREPROCESSING_LAYER)(x)
    features = spec.build(x, alpha=model_cfg.alpha, weights_path=str(weights.path) if weights.path else None)
    x = keras.layers.GlobalAveragePooling2D(name=HEAD_POOL_LAYER)(features)
    x = keras.layers.Dropout(model_cfg.dropout, name=HEAD_DROPOUT_LAYER)(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name=OUTPUT_LAYER)(x)
    model = keras.Model(pixels, probabilities, name=f"dermflow_{model_cfg.backbone}")
    gradcam_layer = model_cfg.gradcam_layer or spec.gradcam_layer
    model.get_layer(gradcam_layer)  # fails early, naming the layer, when the config names one that is not there
    set_backbone_trainable(model, None)
    return BuiltClassifier(model=model, gradcam_layer=gradcam_layer, weights=weights, backbone=model_cfg.backbone)


def backbone_layer_names(model: keras.Model) -> list[str]:
    """The backbone's layers, input to output: everything between the preprocessing and the head."""
    return [
        layer.name
        for layer in model.layers
        if layer.name not in NON_BACKBONE_LAYERS and not isinstance(layer, keras.layers.InputLayer)
    ]


def set_backbone_trainable(model: keras.Model, top_layers: int | Literal["all"] | None) -> None:
    """Freezes the backbone except its top ``top_layers`` layers (None or 0: all frozen; "all": none).

    BatchNormalization layers stay frozen, so fine-tuning does not disturb their statistics.
    The head stays trainable. Recompile the model afterwards for Keras to see the change.
    """
    names = backbone_layer_names(model)
    count = len(names) if top_layers == "all" else top_layers or 0
    if count < 0:
        raise ValueError(f"set_backbone_trainable: top_layers must be >= 0 or 'all', not {top_layers}")
    model.trainable = True
    unfrozen = set(names[max(0, len(names) - count) :])
    for name in names:
        layer = model.get_layer(name)
        layer.trainable = name in unfrozen and not isinstance(layer, keras.layers.BatchNormalization)


def load_keras_model(path: str | Path) -> keras.Model:
    """Loads a saved classifier ``.keras`` file (its custom layers are registered by importing this module)."""
    return keras.models.load_model(path, compile=False)
