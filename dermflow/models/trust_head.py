"""The trust outputs in TensorFlow: what :class:`dermflow.trust.TrustParameters` computes in numpy, inside the SavedModel.

    trust = TrustHead(trust_parameters)                 # fitted values become the module's variables
    outputs = trust(logits, dense_input)               # probabilities, in_scope_score, out_of_scope, prediction_set(_size)

Every exported signature ends in it (:mod:`dermflow.models.model_exporter`). The numpy half
(:mod:`dermflow.trust`) fits the values and is the reference: tests/unit/dermflow/models/
test_model_exporter_trust.py holds the two to the same outputs.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from dermflow.trust import OtherClassifier, ScoreCombination, TrustParameters


class TrustHead(tf.Module):
    """Logits + pooled features -> calibrated probabilities, in-scope score, out-of-scope flag, prediction set."""

    def __init__(self, trust: TrustParameters):
        super().__init__(name="trust")
        self.temperature = tf.Variable(trust.temperature, dtype=tf.float32, trainable=False, name="temperature")
        self.class_means = tf.Variable(trust.distance.means, dtype=tf.float32, trainable=False, name="class_means")
        self.other_means = tf.Variable(  # [K, D], K = 0 without the archive's other diagnoses
            trust.distance.others, dtype=tf.float32, trainable=False, name="other_means",
            shape=tf.TensorShape([None, trust.distance.means.shape[1]]),
        )
        self.other_class_weight = tf.Variable(trust.distance.other_weight, dtype=tf.float32, trainable=False,
                                              name="other_class_weight")
        self.precision = tf.Variable(trust.distance.precision, dtype=tf.float32, trainable=False, name="precision")
        self.reference_distances = tf.Variable(
            trust.reference_distances.astype("float32"), dtype=tf.float32, trainable=False, name="reference_distances",
            shape=tf.TensorShape([None]),
        )
        self.distance_threshold = tf.Variable(trust.distance_threshold, dtype=tf.float32, trainable=False,
                                              name="distance_threshold")
        self.conformal_quantile = tf.Variable(trust.conformal_quantile, dtype=tf.float32, trainable=False,
                                              name="conformal_quantile")
        self._add_other_classifier(trust)

    def _add_other_classifier(self, trust: TrustParameters) -> None:
        """The logistic regression on the features and its combination's constants (unused placeholders when none
        is fitted: ``combination_method`` is then None and the score is the feature distance alone)."""
        classifier, combination = trust.other_classifier, trust.combination
        fitted = classifier is not None and combination is not None
        self.combination_method = combination.method if fitted else None
        if not fitted:
            empty = np.zeros([0], np.float32)
            classifier = OtherClassifier(np.zeros([trust.distance.means.shape[1]], np.float32), 0.0, 1.0)
            combination = ScoreCombination("weighted_sum", empty, empty, 0.0, 1.0, 0.0, 1.0, 0.0)

        def constant(value, name: str, shape=None) -> tf.Variable:
            return tf.Variable(value, dtype=tf.float32, trainable=False, name=name, shape=shape)

        self.classifier_weights = constant(classifier.weights, "classifier_weights")
        self.classifier_bias = constant(float(classifier.bias), "classifier_bias")
        self.distance_reference = constant(combination.distance_reference, "distance_reference", tf.TensorShape([None]))
        self.logit_reference = constant(combination.logit_reference, "logit_reference", tf.TensorShape([None]))
        self.distance_centre = constant(combination.distance_centre, "distance_centre")
        self.distance_scale = constant(combination.distance_scale, "distance_scale")
        self.logit_centre = constant(combination.logit_centre, "logit_centre")
        self.logit_scale = constant(combination.logit_scale, "logit_scale")
        self.logit_weight = constant(combination.logit_weight, "logit_weight")

    def __call__(self, logits: tf.Tensor, dense_input: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32) / self.temperature)
        distance = self._score(dense_input)
        at_least = tf.reduce_sum(tf.cast(self.reference_distances[None, :] >= distance[:, None], tf.float32), axis=1)
        reference_size = tf.cast(tf.size(self.reference_distances), tf.float32)
        prediction_set = probabilities >= 1.0 - self.conformal_quantile
        return {
            "probabilities": probabilities,
            "in_scope_score": (1.0 + at_least) / (1.0 + reference_size),
            "out_of_scope": distance > self.distance_threshold,
            "prediction_set": prediction_set,
            "prediction_set_size": tf.reduce_sum(tf.cast(prediction_set, tf.int32), axis=1),
        }


    def _nearest(self, features: tf.Tensor, means: tf.Tensor) -> tf.Tensor:
        diff = features[:, None, :] - means[None]
        return tf.reduce_min(tf.einsum("ncd,de,nce->nc", diff, self.precision, diff), axis=1)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def out_of_scope_score(self, dense_input: tf.Tensor) -> tf.Tensor:
        """The detector's score of pooled features [N, D] (saved with the model: ``loaded.trust.out_of_scope_score``)."""
        return self._score(dense_input)

    def _score(self, dense_input: tf.Tensor) -> tf.Tensor:
        """TrustParameters.out_of_scope_score: the feature-distance score, combined with the classifier's logit."""
        features = tf.math.l2_normalize(tf.cast(dense_input, tf.float32), axis=1, epsilon=1e-12)
        distance = self._feature_distance(features)
        if self.combination_method is None:
            return distance
        logit = tf.linalg.matvec(features, self.classifier_weights) + self.classifier_bias
        if self.combination_method == "either_pvalue":  # ScoreCombination.combine: counts of part B below
            below_distance = tf.reduce_sum(tf.cast(self.distance_reference[None, :] < distance[:, None], tf.float32), 1)
            below_logit = tf.reduce_sum(tf.cast(self.logit_reference[None, :] < logit[:, None], tf.float32), 1)
            return tf.maximum(below_distance, below_logit)
        return ((distance - self.distance_centre) / self.distance_scale
                + self.logit_weight * (logit - self.logit_centre) / self.logit_scale)

    def _feature_distance(self, features: tf.Tensor) -> tf.Tensor:
        """d_in + beta (d_in - d_other) of L2-normalised features; d_in without other means (FeatureDistance.distance)."""
        d_in = self._nearest(features, self.class_means)
        has_others = tf.shape(self.other_means)[0] > 0
        d_other = tf.where(has_others, self._nearest(features, self.other_means), d_in)  # empty min = inf: unused
        return d_in + self.other_class_weight * (d_in - d_other)
