"""After training: fit calibration, the out-of-scope detector and conformal sets on held-out data.

    trust, calibration = fit_trust_after_training(built, cfg, fn_args.eval_files, batch_size)
    export_model(built, labels, serving_model_dir, image_path, trust=trust, calibration=calibration)

The held-out data is the lesion-grouped ``test`` split when ingest made one (``data.test_fraction``
> 0; found beside the eval split) and ``trust.fit_split`` allows it. It chose neither the epoch nor
the weights; :func:`dermflow.trust.fit_trust` splits it into disjoint halves for the temperature and
for the quantiles. The figures in ``calibration["evaluation"]`` are then measured on the eval split,
which chose the epoch but none of the trust values. Without a test split the eval split is used for
both, and ``calibration["shared_split"]`` says so (docs/trust.md).
"""
from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from dermflow.config import DermflowConfig
from dermflow.models import BuiltClassifier
from dermflow.models.model_exporter import head_model, logits_of
from dermflow.models.skin_lesion_classifier import OUTPUT_LAYER
from dermflow.pipelines import trainer_input
from dermflow.trust import TrustParameters, fit_trust
from dermflow.trust.trust_fitter import evaluate_trust

log = logging.getLogger(__name__)

EVAL_SPLIT_DIR = "Split-eval"
TEST_SPLIT_DIR = "Split-test"


def held_out_test_patterns(eval_patterns: list[str] | tuple[str, ...]) -> list[str]:
    """The test split's file patterns beside the eval split's; ``[]`` when ingest made none."""
    patterns = [p.replace(EVAL_SPLIT_DIR, TEST_SPLIT_DIR) for p in eval_patterns if EVAL_SPLIT_DIR in p]
    return patterns if patterns and any(tf.io.gfile.glob(p) for p in patterns) else []


def head_outputs(built: BuiltClassifier, patterns: list[str], num_classes: int, batch_size: int):
    """(logits [N, C], pooled features [N, D], labels [N]) of every example of the split, in order."""
    summary = trainer_input.summarize_split(patterns, num_classes)
    if summary.num_examples == 0:
        return np.zeros((0, num_classes)), np.zeros((0, 0)), np.zeros(0, np.int64)
    features_model = head_model(built)
    dense = built.model.get_layer(OUTPUT_LAYER)
    logits, features, labels = [], [], []
    for pixels, label in trainer_input.eval_dataset(summary, built.image_size, batch_size, cache=False):
        dense_input = tf.cast(features_model(pixels, training=False), tf.float32)
        logits.append(logits_of(dense, dense_input).numpy())
        features.append(dense_input.numpy())
        labels.append(label.numpy())
    return np.concatenate(logits), np.concatenate(features), np.concatenate(labels).astype(np.int64)


def fit_trust_after_training(
    built: BuiltClassifier, cfg: DermflowConfig, eval_patterns: list[str], batch_size: int
) -> tuple[TrustParameters | None, dict]:
    """The fitted parameters and the JSON figures of calibration.json (None, {...} when ``trust.enabled`` is off)."""
    if not cfg.trust.enabled:
        return None, {"fitted": False, "reason": "trust.enabled is false"}
    num_classes = built.num_classes
    test_patterns = held_out_test_patterns(eval_patterns) if cfg.trust.fit_split in ("auto", "test") else []
    if cfg.trust.fit_split == "test" and not test_patterns:
        raise ValueError("trust.fit_split=test, but ingest made no test split: set data.test_fraction > 0")
    fit_split = "test" if test_patterns else "eval"
    fit_data = head_outputs(built, test_patterns or list(eval_patterns), num_classes, batch_size)
    trust = fit_trust(*fit_data, cfg.trust, split=fit_split)
    if fit_split == "test":
        evaluation = evaluate_trust(trust, *head_outputs(built, list(eval_patterns), num_classes, batch_size),
                                    bins=cfg.trust.ece_bins)
        evaluation["split"] = "eval"
    else:
        log.warning("Trainer: no test split; calibration is fitted on the eval split, which also chose the epoch")
        evaluation = {"split": "eval (shared with the fit: see fit.part_b)"}
    calibration = {"shared_split": fit_split == "eval", "evaluation": evaluation}
    log.info("Trainer: temperature %.3f, out-of-scope threshold %s, conformal quantile %.3f (fitted on %s, %d images)",
             trust.temperature, trust.distance_threshold, trust.conformal_quantile, fit_split, fit_data[2].size)
    return trust, calibration
