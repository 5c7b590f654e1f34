"""The trust outputs in TensorFlow: what :class:`dermflow.trust.TrustParameters` computes in numpy, inside the SavedModel.

    trust = TrustHead(trust_parameters)                 # fitted values become the module's variables
    outputs = trust(logits, dense_input)               # probabilities, in_scope_score, out_of_scope, ...

Every exported signature ends in it (:mod:`dermflow.models.model_exporter`). ``logits`` are the
classifier's C target logits followed by its K abstention logits (K = 0 for a model trained
without). The numpy half (:mod:`dermflow.trust`) fits the values and is the reference:
tests/unit/dermflow/models/test_trust_head.py holds the two to the same outputs.
"""
from __future__ import annotations

import tensorflow as tf

from dermflow.trust import TrustParameters


class TrustHead(tf.Module):
    """Logits + pooled features -> calibrated target probabilities, other-diagnosis probability, in-scope score,
    out-of-scope flag and which signal raised it, prediction set."""

    def __init__(self, trust: TrustParameters, num_outputs: int):
        super().__init__(name="trust")
        self.num_targets = trust.num_targets
        self.has_abstention = num_outputs > trust.num_targets  # python: traced once into every signature

        def constant(value, name: str, shape=None) -> tf.Variable:
            return tf.Variable(value, dtype=tf.float32, trainable=False, name=name, shape=shape)

        decision = trust.decision
        self.temperature = constant(trust.temperature, "temperature")
        self.class_means = constant(trust.distance.means, "class_means")
        self.precision = constant(trust.distance.precision, "precision")
        self.novelty_reference = constant(decision.novelty_reference, "novelty_reference", tf.TensorShape([None]))
        self.memory_reference = constant(decision.memory_reference, "memory_reference", tf.TensorShape([None]))
        self.decision_reference = constant(decision.reference, "decision_reference", tf.TensorShape([None]))
        self.decision_threshold = constant(decision.threshold, "decision_threshold")  # inf: the flag cannot fire
        self.conformal_quantile = constant(trust.conformal_quantile, "conformal_quantile")

    def __call__(self, logits: tf.Tensor, dense_input: tf.Tensor) -> dict[str, tf.Tensor]:
        logits = tf.cast(logits, tf.float32)
        targets = logits[:, : self.num_targets]
        probabilities = tf.nn.softmax(targets / self.temperature)  # renormalised over the targets, then calibrated
        novelty_rank = _count_below(self.novelty_reference, self._novelty(dense_input))
        outputs = {"probabilities": probabilities}
        if self.has_abstention:
            others = logits[:, self.num_targets:]
            outputs["other_diagnosis_probability"] = tf.reduce_sum(tf.nn.softmax(logits)[:, self.num_targets:], axis=1)
            memory = tf.reduce_logsumexp(others, axis=1) - tf.reduce_logsumexp(targets, axis=1)
            memory_rank = _count_below(self.memory_reference, memory)
        else:
            memory_rank = tf.zeros_like(novelty_rank)
        score = tf.maximum(novelty_rank, memory_rank)
        at_least = tf.reduce_sum(tf.cast(self.decision_reference[None, :] >= score[:, None], tf.float32), axis=1)
        reference_size = tf.cast(tf.size(self.decision_reference), tf.float32)
        prediction_set = probabilities >= 1.0 - self.conformal_quantile
        return {
            **outputs,
            "in_scope_score": (1.0 + at_least) / (1.0 + reference_size),
            "out_of_scope": score > self.decision_threshold,
            "out_of_scope_other_diagnosis": memory_rank > self.decision_threshold,
            "out_of_scope_novel": novelty_rank > self.decision_threshold,
            "prediction_set": prediction_set,
            "prediction_set_size": tf.reduce_sum(tf.cast(prediction_set, tf.int32), axis=1),
        }

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None], tf.float32)])
    def out_of_scope_score(self, logits: tf.Tensor, dense_input: tf.Tensor) -> tf.Tensor:
        """The decision score (saved with the model: ``loaded.trust.out_of_scope_score``), as TrustParameters'."""
        novelty_rank = _count_below(self.novelty_reference, self._novelty(dense_input))
        if not self.has_abstention:
            return novelty_rank
        memory = (tf.reduce_logsumexp(logits[:, self.num_targets:], axis=1)
                  - tf.reduce_logsumexp(logits[:, : self.num_targets], axis=1))
        return tf.maximum(novelty_rank, _count_below(self.memory_reference, memory))

    def _novelty(self, dense_input: tf.Tensor) -> tf.Tensor:
        """Squared Mahalanobis distance of the L2-normalised features to the nearest target mean (FeatureDistance)."""
        features = tf.math.l2_normalize(tf.cast(dense_input, tf.float32), axis=1, epsilon=1e-12)
        diff = features[:, None, :] - self.class_means[None]
        return tf.reduce_min(tf.einsum("ncd,de,nce->nc", diff, self.precision, diff), axis=1)


def _count_below(sorted_reference: tf.Tensor, scores: tf.Tensor) -> tf.Tensor:
    """float32 [N]: how many reference values are strictly below each score (out_of_scope_decision.count_below)."""
    return tf.reduce_sum(tf.cast(sorted_reference[None, :] < scores[:, None], tf.float32), axis=1)
