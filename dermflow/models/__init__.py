"""Classifier models: backbones + head, Grad-CAM, and the SavedModel export.

    built = build_classifier(cfg.model, num_classes=len(labels))
    set_backbone_trainable(built.model, cfg.train.fine_tune_layers)   # phase 2
    export_model(built, labels, export_dir)
    probabilities, predicted, heatmap = make_gradcam_fn(built.model, built.gradcam_layer)(pixels)

The names below load on first use: ``dermflow.models.export_layout`` is read without TensorFlow
(the checks before a command's work, the registry), so importing the package must not load Keras.
"""
from __future__ import annotations

import importlib

_SOURCE_MODULE = {
    "GradCam": "gradcam",
    "make_gradcam_fn": "gradcam",
    "read_exported_labels": "export_layout",
    "SIGNATURES": "model_exporter",
    "export_model": "model_exporter",
    "load_exported": "model_exporter",
    "BuiltClassifier": "skin_lesion_classifier",
    "backbone_layer_names": "skin_lesion_classifier",
    "build_classifier": "skin_lesion_classifier",
    "load_keras_model": "skin_lesion_classifier",
    "set_backbone_trainable": "skin_lesion_classifier",
}

__all__ = sorted(_SOURCE_MODULE)


def __getattr__(name: str):
    if name in _SOURCE_MODULE:
        return getattr(importlib.import_module(f"{__name__}.{_SOURCE_MODULE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
