"""After training: fit calibration, the out-of-scope detector and conformal sets on held-out data.

    trust, calibration = fit_trust_after_training(built, cfg, fn_args.eval_files, batch_size)
    export_model(built, labels, serving_model_dir, image_path, trust=trust, calibration=calibration)
    outputs = read_head_outputs(model, patterns, batch_size)   # logits, features, labels, codes, lesion ids

The held-out data is the lesion-grouped ``test`` split when ingest made one (``data.test_fraction``
> 0; found beside the eval split) and ``trust.fit_split`` allows it. It chose neither the epoch nor
the weights; :func:`dermflow.trust.fit_trust` splits it into disjoint halves for the temperature and
for the quantiles. The same split's images of the archive's other diagnoses (ClassFilter's
out-of-scope examples, ``<artifact>/OutOfScope/Split-test``, dermflow.isic.out_of_scope_examples)
give the detector its other-diagnosis means and train the other-diagnosis classifier that
``trust.other_classifier`` combines with the distance (docs/trust.md). The figures in ``calibration["evaluation"]`` are then
measured on the eval split (its targets and its other diagnoses), which chose the epoch but none of
the trust values. Without a test split the eval split is used for both, and
``calibration["shared_split"]`` says so (docs/trust.md).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from dermflow.config import DermflowConfig
from dermflow.imaging.model_input import decode_and_resize
from dermflow.isic.out_of_scope_examples import out_of_scope_patterns
from dermflow.models import BuiltClassifier
from dermflow.models.model_exporter import logits_of
from dermflow.models.skin_lesion_classifier import OUTPUT_LAYER
from dermflow.pipelines.training import trainer_input
from dermflow.trust import OtherDiagnoses, TrustParameters, evaluate_trust, fit_trust

log = logging.getLogger(__name__)

EVAL_SPLIT_DIR = "Split-eval"
TEST_SPLIT_DIR = "Split-test"
_OUTPUT_FEATURES = {
    trainer_input.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
    trainer_input.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    "label_name": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "lesion_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


@dataclass(frozen=True)
class HeadOutputs:
    """Per example of a split, in file order: what the classifier's head saw and said."""

    logits: np.ndarray  # float [N, C]
    features: np.ndarray  # float [N, D]: the output Dense layer's input
    labels: np.ndarray  # int64 [N]: -1 for out-of-scope examples
    label_names: np.ndarray  # str [N]: the target label, or the ISIC code of an out-of-scope example
    lesion_ids: np.ndarray  # str [N], "" when unknown
    image_ids: np.ndarray  # str [N]

    def __len__(self) -> int:
        return int(self.labels.size)

    def as_others(self) -> OtherDiagnoses:
        return OtherDiagnoses(self.logits, self.features, self.label_names)


def held_out_test_patterns(eval_patterns: list[str] | tuple[str, ...]) -> list[str]:
    """The test split's file patterns beside the eval split's; ``[]`` when ingest made none."""
    patterns = [p.replace(EVAL_SPLIT_DIR, TEST_SPLIT_DIR) for p in eval_patterns if EVAL_SPLIT_DIR in p]
    return patterns if patterns and any(tf.io.gfile.glob(p) for p in patterns) else []


def existing_out_of_scope_patterns(split_patterns: list[str] | tuple[str, ...]) -> list[str]:
    """ClassFilter's out-of-scope file patterns of the same split; ``[]`` when there are none."""
    patterns = out_of_scope_patterns(list(split_patterns))
    return patterns if any(tf.io.gfile.glob(p) for p in patterns) else []


def read_head_outputs(model, patterns: list[str], batch_size: int) -> HeadOutputs:
    """Logits and pooled features of every example matching ``patterns`` (targets or out-of-scope), in order."""
    import keras

    files = sorted({path for pattern in patterns for path in tf.io.gfile.glob(pattern)})
    num_classes = int(model.output_shape[-1])
    dense = model.get_layer(OUTPUT_LAYER)
    if not files:
        return _no_outputs(num_classes, int(dense.input.shape[-1]))
    features_model = keras.Model(model.input, dense.input)
    size = int(model.input_shape[1])
    parsed = trainer_input.read_records(files).map(lambda r: tf.io.parse_single_example(r, _OUTPUT_FEATURES))
    dataset = parsed.map(lambda e: {**e, "pixels": decode_and_resize(e[trainer_input.IMAGE_KEY], size)},
                         num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    logits, features, labels, names, lesions, images = [], [], [], [], [], []
    for batch in dataset:
        dense_input = tf.cast(features_model(batch["pixels"], training=False), tf.float32)
        logits.append(logits_of(dense, dense_input).numpy())
        features.append(dense_input.numpy())
        labels.append(batch[trainer_input.LABEL_KEY].numpy())
        for column, key in ((names, "label_name"), (lesions, "lesion_id"), (images, "image_id")):
            column.extend(value.decode("utf-8") for value in batch[key].numpy())
    if not logits:  # files without a record: ClassFilter writes empty ones when no example of a split fits
        return _no_outputs(num_classes, int(dense.input.shape[-1]))
    return HeadOutputs(np.concatenate(logits).astype(np.float64), np.concatenate(features).astype(np.float64),
                       np.concatenate(labels).astype(np.int64), np.array(names, str), np.array(lesions, str),
                       np.array(images, str))


def _no_outputs(num_classes: int, dim: int) -> HeadOutputs:
    empty = np.zeros(0, str)
    return HeadOutputs(np.zeros((0, num_classes)), np.zeros((0, dim)), np.zeros(0, np.int64), empty, empty, empty)


def head_outputs(built: BuiltClassifier, patterns: list[str], num_classes: int, batch_size: int):
    """(logits [N, C], pooled features [N, D], labels [N]) of every example of the split, in order."""
    outputs = read_head_outputs(built.model, patterns, batch_size)
    return outputs.logits, outputs.features, outputs.labels


def out_of_scope_outputs(built: BuiltClassifier, split_patterns: list[str], batch_size: int) -> OtherDiagnoses | None:
    """The split's other-diagnosis images (ClassFilter's out-of-scope examples), or None when it has none."""
    patterns = existing_out_of_scope_patterns(split_patterns)
    if not patterns:
        return None
    others = read_head_outputs(built.model, patterns, batch_size).as_others()
    return others if len(others) else None


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
    fit_patterns = test_patterns or list(eval_patterns)
    fit_data = head_outputs(built, fit_patterns, num_classes, batch_size)
    fit_others = out_of_scope_outputs(built, fit_patterns, batch_size)
    trust = fit_trust(*fit_data, cfg.trust, split=fit_split, others=fit_others)
    if fit_split == "test":
        evaluation = evaluate_trust(trust, *head_outputs(built, list(eval_patterns), num_classes, batch_size),
                                    bins=cfg.trust.ece_bins, others=out_of_scope_outputs(built, list(eval_patterns), batch_size))
        evaluation["split"] = "eval"
    else:
        log.warning("Trainer: no test split; calibration is fitted on the eval split, which also chose the epoch")
        evaluation = {"split": "eval (shared with the fit: see fit.part_b)"}
    calibration = {"shared_split": fit_split == "eval", "evaluation": evaluation}
    log.info("Trainer: temperature %.3f, out-of-scope threshold %s (%s, other diagnoses %s), conformal quantile %.3f "
             "(fitted on %s, %d images, %d of other diagnoses)", trust.temperature, trust.distance_threshold,
             trust.out_of_scope_method, list(trust.distance.other_codes), trust.conformal_quantile, fit_split,
             fit_data[2].size, 0 if fit_others is None else len(fit_others))
    return trust, calibration
