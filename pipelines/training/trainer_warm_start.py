"""The Trainer's warm start: fine-tune from the last blessed model when it fits (``train.warm_start``).

    built = build_classifier(cfg.model, len(labels))
    cfg = warm_start(built, cfg, fn_args.base_model)   # its weights loaded, and the warm schedule; or cfg as it was

``fn_args.base_model`` is the last blessed model of the pipeline (``LatestBlessedModelResolver``,
the Trainer's ``base_model`` input): its SavedModel folder, whose ``assets.extra/`` holds
``model.keras``, ``labels.txt`` and the backbone in ``weights_provenance.json``. When
``train.warm_start`` is ``last_blessed`` and its backbone, its classes (in order) and every weight's
shape match the model being trained, its weights replace ImageNet's and training follows the
shorter ``retrain.warm_start_*`` schedule. Otherwise one line says why, and training starts from
ImageNet on the usual schedule. Either way the trust values (temperature, out-of-scope detector,
conformal sets) are fitted anew after training: nothing of them is carried over.
"""
from __future__ import annotations

import logging
from pathlib import Path

from dermflow.config import DermflowConfig
from dermflow.models import BuiltClassifier, load_keras_model
from dermflow.models.export_layout import EXTRAS_DIR, KERAS_FILE, read_export_provenance, read_exported_labels

log = logging.getLogger(__name__)


def why_not(cfg: DermflowConfig, built: BuiltClassifier, base_model: str | None) -> str | None:
    """None when the base model can be warm-started from, else the reason it cannot."""
    if cfg.train.warm_start == "none":
        return "train.warm_start is none"
    if not base_model:
        return "there is no blessed model yet"
    base = Path(base_model)
    if not (base / EXTRAS_DIR / KERAS_FILE).is_file():
        return f"the last blessed model {base} has no {EXTRAS_DIR}/{KERAS_FILE}"
    labels = read_exported_labels(base)
    if labels != cfg.labels.label_names():
        return f"its classes {labels} differ from {cfg.labels.label_names()}"
    backbone = read_export_provenance(base).get("backbone")
    if backbone != built.backbone:
        return f"its backbone {backbone} differs from {built.backbone}"
    return None


def copy_weights(source, target) -> str | None:
    """Copies every layer's weights by name; None when done, else why not (then ``target`` is unchanged)."""
    pairs = []
    for layer in target.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        try:
            theirs = source.get_layer(layer.name).get_weights()
        except ValueError:
            return f"it has no layer {layer.name}"
        if [w.shape for w in theirs] != [w.shape for w in weights]:
            return f"layer {layer.name}'s weights have other shapes (another width, depth or set of abstention outputs)"
        pairs.append((layer, theirs))
    for layer, theirs in pairs:
        layer.set_weights(theirs)
    return None


def warm_schedule(cfg: DermflowConfig) -> DermflowConfig:
    """The config with the warm start's shorter schedule in ``train``."""
    retrain = cfg.retrain
    train = cfg.train.model_copy(update={
        "head_epochs": retrain.warm_start_head_epochs, "fine_tune_epochs": retrain.warm_start_fine_tune_epochs,
        "fine_tune_learning_rate": retrain.warm_start_learning_rate, "fine_tune_warmup_epochs": 0,
        "feature_cache": retrain.warm_start_feature_cache and cfg.train.feature_cache,
    })
    return cfg.model_copy(update={"train": train})


def warm_start(built: BuiltClassifier, cfg: DermflowConfig, base_model: str | None) -> DermflowConfig:
    """Loads the base model's weights into ``built`` and returns the config to train with (see the module docstring)."""
    reason = why_not(cfg, built, base_model)
    if reason is None:
        reason = copy_weights(load_keras_model(Path(base_model) / EXTRAS_DIR / KERAS_FILE), built.model)
    if reason is not None:
        if cfg.train.warm_start != "none":
            log.warning("Trainer: no warm start (%s): training from %s", reason,
                        "ImageNet" if built.weights.path else "the initial weights")
        return cfg
    warm = warm_schedule(cfg)
    log.info("Trainer: warm start from the last blessed model %s: %d + %d epochs, phase 2 at %g "
             "(retrain.warm_start_*); the trust values are fitted anew", base_model, warm.train.head_epochs,
             warm.train.fine_tune_epochs, warm.train.fine_tune_learning_rate)
    return warm
