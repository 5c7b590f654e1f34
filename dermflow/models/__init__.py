"""Classifier models: backbones + head, Grad-CAM, and the SavedModel export.

    built = build_classifier(cfg.model, num_classes=len(labels))
    set_backbone_trainable(built.model, cfg.train.fine_tune_layers)   # phase 2
    export_model(built, labels, export_dir)
    probabilities, predicted, heatmap = make_gradcam_fn(built.model, built.gradcam_layer)(pixels)
"""
from dermflow.models.gradcam import GradCam, make_gradcam_fn
from dermflow.models.export_layout import read_exported_labels
from dermflow.models.model_exporter import SIGNATURES, export_model, load_exported
from dermflow.models.skin_lesion_classifier import (
    BuiltClassifier,
    backbone_layer_names,
    build_classifier,
    load_keras_model,
    set_backbone_trainable,
)

__all__ = [
    "SIGNATURES",
    "BuiltClassifier",
    "GradCam",
    "backbone_layer_names",
    "build_classifier",
    "export_model",
    "load_exported",
    "load_keras_model",
    "make_gradcam_fn",
    "read_exported_labels",
    "set_backbone_trainable",
]
