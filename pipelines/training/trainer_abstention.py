"""Abstention outputs in training (``trust.abstention: hod``): which diagnoses get one, and the loss.

    codes = abstention_codes(cfg.trust, fn_args.train_files)     # ("AK", "BKL", ...): beside the train split
    loss = HierarchicalOutlierLoss(num_targets=3, coarse_weight=cfg.trust.abstention_coarse_weight)

The archive's other ISIC diagnoses (ClassFilter keeps them beside the splits, label -1,
:mod:`dermflow.isic.out_of_scope_examples`) each get one output after the C targets, in ISIC
order. The loss is Roy et al. 2022's hierarchical outlier detection (HOD, arXiv 2104.03829): the
fine-grained cross-entropy over all C + K outputs, plus ``coarse_weight`` times the coarse term
-log(the summed probability of the example's group: the targets for a target image, the abstention
outputs for another diagnosis). Class weights or oversampling treat the K abstention classes as
they treat the targets (``train.imbalance``). Without other diagnoses beside the train split (every
diagnosis is a target, or the archive holds only targets) the model has the targets alone and
trains as with ``trust.abstention: none``; the log says so.
"""
from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from dermflow.config import ISIC_DIAGNOSES, TrustConfig
from dermflow.isic.out_of_scope_examples import out_of_scope_patterns
from dermflow.pipelines.training import trainer_input

log = logging.getLogger(__name__)

_EPSILON = 1e-7  # as Keras's sparse cross-entropy clips probabilities


def out_of_scope_counts(split_patterns: list[str] | tuple[str, ...]) -> dict[str, int]:
    """ISIC code -> how many of ClassFilter's out-of-scope examples lie beside this split ({} when none)."""
    files = sorted({path for pattern in out_of_scope_patterns(list(split_patterns)) for path in tf.io.gfile.glob(pattern)})
    if not files:
        return {}
    names = trainer_input.read_records(files).map(
        lambda record: tf.io.parse_single_example(record, trainer_input.LABEL_NAME_ONLY)[trainer_input.LABEL_NAME_KEY],
        num_parallel_calls=tf.data.AUTOTUNE).batch(4096)
    codes, counts = np.unique(np.concatenate([batch for batch in names.as_numpy_iterator()] or [np.zeros(0, object)]),
                              return_counts=True)
    return {code.decode("utf-8"): int(n) for code, n in zip(codes, counts)}


def abstention_codes(trust_cfg: TrustConfig, train_patterns: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The other diagnoses that get an abstention output: those beside the train split, less ``abstention_exclude``."""
    if trust_cfg.abstention == "none":
        return ()
    counts = out_of_scope_counts(train_patterns)
    excluded = {code: counts[code] for code in trust_cfg.abstention_exclude if code in counts}
    codes = tuple(code for code in ISIC_DIAGNOSES if code in counts and code not in excluded)
    if excluded:
        log.info("Trainer: %s kept out of training (trust.abstention_exclude): %s train images not trained on",
                 sorted(excluded), excluded)
    if not codes:
        log.info("Trainer: note: trust.abstention is hod, but no other diagnosis lies beside the train split "
                 "(the labels cover every diagnosis of the archive, or it holds only the targets): training the "
                 "targets alone, as with trust.abstention=none; the out-of-scope flag uses the feature distance alone")
        return ()
    log.info("Trainer: abstention outputs for %s (%s train images), coarse weight %g",
             list(codes), {code: counts[code] for code in codes}, trust_cfg.abstention_coarse_weight)
    return codes


@keras.saving.register_keras_serializable(package="dermflow")
class HierarchicalOutlierLoss(keras.losses.Loss):
    """Fine cross-entropy over every output + ``coarse_weight`` x -log(summed probability of the true group).

    ``y_true``: int labels, 0..C-1 targets, C..C+K-1 abstention classes; ``y_pred``: softmax probabilities [N, C + K].
    """

    def __init__(self, num_targets: int, coarse_weight: float = 1.0, name: str = "hod_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_targets = int(num_targets)
        self.coarse_weight = float(coarse_weight)

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, [-1]), "int32")
        probabilities = ops.cast(y_pred, "float32")
        picked = ops.take_along_axis(probabilities, labels[:, None], axis=1)[:, 0]
        fine = -ops.log(ops.clip(picked, _EPSILON, 1.0))
        targets = ops.sum(probabilities[:, : self.num_targets], axis=1)
        others = ops.sum(probabilities[:, self.num_targets:], axis=1)
        group = ops.where(labels >= self.num_targets, others, targets)
        return fine - self.coarse_weight * ops.log(ops.clip(group, _EPSILON, 1.0))

    def get_config(self) -> dict:
        return {**super().get_config(), "num_targets": self.num_targets, "coarse_weight": self.coarse_weight}


def training_loss(num_targets: int, num_outputs: int, trust_cfg: TrustConfig) -> keras.losses.Loss:
    """HOD with abstention outputs; the plain sparse cross-entropy (as before issue 30) without."""
    if num_outputs > num_targets:
        return HierarchicalOutlierLoss(num_targets, trust_cfg.abstention_coarse_weight)
    return keras.losses.SparseCategoricalCrossentropy()
