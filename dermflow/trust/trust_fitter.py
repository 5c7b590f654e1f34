"""Fits the temperature, the out-of-scope detector, its threshold and the conformal quantile on held-out data.

    trust = fit_trust(logits, features, labels, cfg.trust)                   # held-out, in-scope images
    trust = fit_trust(logits, features, labels, cfg.trust, others=others)    # + the other diagnoses' images
    summary = trust.summary()                                                # -> calibration.json
    figures = evaluate_trust(trust, logits, features, labels, bins, others)  # on data used for none of it

The held-out images are split at random (``trust.seed``) into two disjoint halves, and so are the
images of the archive's other diagnoses (``others``, :class:`OtherDiagnoses`, ClassFilter's
out-of-scope examples of the same split):

- part A fits the temperature (NLL) and the feature-distance detector: target class means, their
  shared covariance, and one mean per other ISIC code; and, with enough other-diagnosis images
  (``trust.other_classifier`` not ``off``), a logistic regression, targets vs other diagnoses
  (:mod:`dermflow.trust.other_classifier`);
- part B, with A's temperature and detector, fixes the constants that combine the distance and the
  classifier (:mod:`dermflow.trust.score_combination`), the out-of-scope threshold (the
  ``in_scope_retention`` quantile of its in-scope scores) and the conformal quantile
  (``conformal_coverage``), so none is fitted on the data that chose the temperature. Part B's
  other diagnoses give the fit-time out-of-scope AUROC in ``fit["out_of_scope"]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dermflow.config import TrustConfig
from dermflow.trust.calibration_metrics import classwise_ece, expected_calibration_error
from dermflow.trust.conformal_sets import conformal_threshold, prediction_sets
from dermflow.trust.feature_distance import (
    FeatureDistance, fit_feature_distance, in_scope_pvalue, max_softmax_score)
from dermflow.trust.other_classifier import METHOD as CLASSIFIER_METHOD
from dermflow.trust.other_classifier import OtherClassifier, fit_other_classifier
from dermflow.trust.out_of_scope_metrics import auroc, out_of_scope_figures
from dermflow.trust.score_combination import ScoreCombination, fit_score_combination
from dermflow.trust.temperature_scaling import fit_temperature, softmax

MIN_PART = 2


@dataclass(frozen=True)
class OtherDiagnoses:
    """Held-out images of the archive's non-target diagnoses: logits [M, C], features [M, D], ISIC codes [M]."""

    logits: np.ndarray
    features: np.ndarray
    codes: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "logits", np.asarray(self.logits, np.float64))
        object.__setattr__(self, "features", np.asarray(self.features, np.float64))
        object.__setattr__(self, "codes", np.asarray(self.codes).astype(str))

    def __len__(self) -> int:
        return int(self.codes.size)

    def subset(self, index) -> "OtherDiagnoses":
        return OtherDiagnoses(self.logits[index], self.features[index], self.codes[index])


@dataclass(frozen=True)
class TrustParameters:
    """What the exported model applies in every signature (model_exporter.ClassifierServing)."""

    temperature: float
    distance: FeatureDistance
    reference_distances: np.ndarray  # float32 [n], sorted: part B's in-scope out-of-scope scores (combined, if any)
    distance_threshold: float  # an out-of-scope score above it is out of scope
    conformal_quantile: float  # the set holds c when p_c >= 1 - conformal_quantile
    in_scope_retention: float
    conformal_coverage: float
    fit: dict = field(default_factory=dict)  # sizes, split, ECE before/after on the fitting parts
    other_classifier: OtherClassifier | None = None  # with it, a combination; without, the distance alone
    combination: ScoreCombination | None = None

    @classmethod
    def identity(cls, num_classes: int, dim: int) -> "TrustParameters":
        """Nothing fitted: temperature 1, nothing out of scope (score 1), every set full."""
        return cls(1.0, FeatureDistance.identity(num_classes, dim), np.zeros([0], np.float32), math.inf, 1.0,
                   0.0, 1.0, {"fitted": False})

    @property
    def fitted(self) -> bool:
        return bool(self.fit.get("fitted"))

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        return softmax(np.asarray(logits, dtype=np.float64) / self.temperature)

    def out_of_scope_score(self, features: np.ndarray) -> np.ndarray:
        """The score the threshold applies to (grows with "out of scope"): the feature-distance score s, or
        its combination with the other-diagnosis classifier's logit."""
        return _out_of_scope_score(self.distance, self.other_classifier, self.combination, features)

    @property
    def out_of_scope_method(self) -> str:
        if self.other_classifier is None or self.combination is None:
            return self.distance.method
        return f"{self.combination.method}({self.distance.method}, {CLASSIFIER_METHOD})"

    def in_scope_score(self, features: np.ndarray) -> np.ndarray:
        return in_scope_pvalue(self.out_of_scope_score(features), self.reference_distances)

    def out_of_scope(self, features: np.ndarray) -> np.ndarray:
        return self.out_of_scope_score(features) > self.distance_threshold

    def summary(self) -> dict:
        """JSON-ready: the fitted values (not the detector's matrices) and the fitting figures."""
        scope = {
            "method": self.distance.method,
            "score": "d_in + other_class_weight * (d_in - d_other), squared Mahalanobis distances to the "
                     "nearest target / other-diagnosis mean; d_in alone without other means",
            "other_class_weight": self.distance.other_weight,
            "other_classes": list(self.distance.other_codes),
            "in_scope_retention": self.in_scope_retention,
            "distance_threshold": None if math.isinf(self.distance_threshold) else self.distance_threshold,
            "reference_size": int(self.reference_distances.size),
        }
        if self.other_classifier is not None and self.combination is not None:
            scope["feature_distance"] = {"method": scope["method"], "score": scope["score"]}
            scope["method"] = self.out_of_scope_method
            scope["score"] = f"{self.combination.method} of the feature-distance score and the classifier's logit"
            scope["other_classifier"] = {
                "method": CLASSIFIER_METHOD, "regularisation_c": self.other_classifier.regularisation,
                "bias": self.other_classifier.bias, "weights_norm": float(np.linalg.norm(self.other_classifier.weights)),
                "class_weight": "balanced"}
            scope["combination"] = self.combination.summary()
        return {
            "temperature": self.temperature,
            "out_of_scope": scope,
            "conformal": {"coverage": self.conformal_coverage, "quantile": self.conformal_quantile,
                          "score": "1 - calibrated probability of the true label"},
            "fit": self.fit,
        }


def _out_of_scope_score(distance: FeatureDistance, classifier: OtherClassifier | None,
                        combination: ScoreCombination | None, features: np.ndarray) -> np.ndarray:
    if classifier is None or combination is None:
        return distance.distance(features)
    return combination.combine(distance.distance(features), classifier.logit(features))


def _quantile_rank(values: np.ndarray, level: float) -> float:
    """The ceil((n+1) level)-th smallest value; inf when n is too small for that level."""
    values = np.sort(np.asarray(values, dtype=np.float64))
    rank = math.ceil((values.size + 1) * level)
    return float(values[rank - 1]) if 0 < rank <= values.size else math.inf


def _halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


def fit_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(part A, part B): the indices :func:`fit_trust` draws for ``n`` held-out images with ``trust.seed`` ``seed``
    (the drift baseline keeps part B, which fitted neither the temperature nor the class means)."""
    return _halves(n, np.random.default_rng(seed))


def fit_trust(logits: np.ndarray, features: np.ndarray, labels: np.ndarray, cfg: TrustConfig,
              split: str = "test", others: OtherDiagnoses | None = None) -> TrustParameters:
    """``logits`` [N, C], ``features`` [N, D] (the classifier's dense input), ``labels`` [N] of held-out images;
    ``others``: held-out images of the other diagnoses (their means enter the score, weight ``other_class_weight``)."""
    logits = np.asarray(logits, dtype=np.float64)
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    num_classes = logits.shape[1]
    if labels.size < 2 * MIN_PART:
        params = TrustParameters.identity(num_classes, features.shape[1])
        return TrustParameters(**{**params.__dict__, "fit": {"fitted": False, "reason": f"{labels.size} held-out images"}})
    rng = np.random.default_rng(cfg.seed)
    part_a, part_b = _halves(labels.size, rng)
    others_a, others_b = _halves(len(others), rng) if others is not None and len(others) else (None, None)

    temperature = fit_temperature(logits[part_a], labels[part_a])
    detector = fit_feature_distance(
        features[part_a], labels[part_a], num_classes,
        others.features[others_a] if others_a is not None else None,
        others.codes[others_a] if others_a is not None else None, cfg.other_class_weight)
    classifier = combination = None
    if cfg.other_classifier != "off" and others_a is not None:
        classifier = fit_other_classifier(features[part_a], others.features[others_a], cfg.other_classifier_c,
                                          cfg.seed)
    distance_b = detector.distance(features[part_b])
    if classifier is None:
        scores_b = distance_b
    else:
        logit_b = classifier.logit(features[part_b])
        combination = fit_score_combination(cfg.other_classifier, distance_b, logit_b, cfg.other_classifier_weight)
        scores_b = combination.combine(distance_b, logit_b)
    reference = np.sort(scores_b).astype(np.float32)
    threshold = _quantile_rank(reference, cfg.in_scope_retention)
    calibrated_b = softmax(logits[part_b] / temperature)
    quantile = conformal_threshold(calibrated_b, labels[part_b], cfg.conformal_coverage)

    raw_b = softmax(logits[part_b])
    fit = {
        "fitted": True,
        "split": split,
        "sizes": {"held_out": int(labels.size), "part_a": int(part_a.size), "part_b": int(part_b.size),
                  "others_part_a": int(0 if others_a is None else others_a.size),
                  "others_part_b": int(0 if others_b is None else others_b.size)},
        "part_a": "temperature + feature-distance detector (target means, other-diagnosis means, covariance)"
                  + (" + other-diagnosis classifier" if classifier is not None else ""),
        "part_b": ("combination constants + " if combination is not None else "")
                  + "out-of-scope threshold + conformal quantile; ECE below is measured on it",
        "ece_bins": cfg.ece_bins,
        "ece_before": expected_calibration_error(raw_b, labels[part_b], cfg.ece_bins),
        "ece_after": expected_calibration_error(calibrated_b, labels[part_b], cfg.ece_bins),
    }
    if others_a is not None:
        fit["other_class_images_part_a"] = dict(zip(*np.unique(others.codes[others_a], return_counts=True)))
        fit["other_class_images_part_a"] = {str(k): int(v) for k, v in fit["other_class_images_part_a"].items()}
        b_scores = _out_of_scope_score(detector, classifier, combination, others.features[others_b])
        fit["out_of_scope"] = out_of_scope_figures(
            reference, b_scores, others.codes[others_b], reference > threshold, b_scores > threshold)
        fit["out_of_scope"]["note"] = ("part B's other diagnoses: their codes' means (and the classifier) were "
                                       "fitted on part A (the same codes), so this is not novelty")
    return TrustParameters(temperature, detector, reference, threshold, quantile, cfg.in_scope_retention,
                           cfg.conformal_coverage, fit, classifier, combination)


def evaluate_trust(trust: TrustParameters, logits: np.ndarray, features: np.ndarray, labels: np.ndarray,
                   bins: int = 15, others: OtherDiagnoses | None = None) -> dict:
    """ECE before/after (top-label and per class), coverage, set sizes and in-scope flag rate on in-scope images;
    with ``others``, the out-of-scope AUROC (overall, per code; the detector and max softmax) and flag rates."""
    labels = np.asarray(labels, dtype=np.int64)
    raw = softmax(np.asarray(logits, dtype=np.float64))
    calibrated = trust.calibrated(logits)
    sets = prediction_sets(calibrated, trust.conformal_quantile)
    sizes = sets.sum(axis=1)
    figures = {
        "count": int(labels.size),
        "ece_before": expected_calibration_error(raw, labels, bins),
        "ece_after": expected_calibration_error(calibrated, labels, bins),
        "classwise_ece_before": classwise_ece(raw, labels, bins),
        "classwise_ece_after": classwise_ece(calibrated, labels, bins),
        "coverage": float(sets[np.arange(labels.size), labels].mean()) if labels.size else float("nan"),
        "mean_set_size": float(sizes.mean()) if labels.size else float("nan"),
        "committed_share": float((sizes == 1).mean()) if labels.size else float("nan"),
        "in_scope_flag_rate": float(trust.out_of_scope(features).mean()) if labels.size else float("nan"),
    }
    if others is not None and len(others):
        target_scores = trust.out_of_scope_score(features)
        other_scores = trust.out_of_scope_score(others.features)
        section = out_of_scope_figures(target_scores, other_scores, others.codes,
                                       target_scores > trust.distance_threshold,
                                       other_scores > trust.distance_threshold)
        section["auroc_max_softmax"] = out_of_scope_figures(
            max_softmax_score(calibrated), max_softmax_score(trust.calibrated(others.logits)), others.codes)["auroc"]
        if trust.other_classifier is not None:
            section["auroc_feature_distance"] = auroc(trust.distance.distance(features),
                                                      trust.distance.distance(others.features))
            section["auroc_other_classifier"] = auroc(trust.other_classifier.logit(features),
                                                      trust.other_classifier.logit(others.features))
        figures["out_of_scope"] = section
    return figures
