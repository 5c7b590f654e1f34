"""Fits the temperature, the out-of-scope threshold and the conformal quantile on held-out data.

    trust = fit_trust(logits, features, labels, cfg.trust)          # held-out, in-scope images
    summary = trust.summary()                                       # -> calibration.json
    figures = evaluate_trust(trust, logits, features, labels, bins) # on data used for none of it

The held-out images are split at random (``trust.seed``) into two disjoint halves:

- part A fits the temperature (NLL) and the feature-distance detector (class means, covariance);
- part B, with A's temperature and detector, fixes the out-of-scope threshold (the
  ``in_scope_retention`` quantile of its in-scope distances) and the conformal quantile
  (``conformal_coverage``), so neither is fitted on the data that chose the temperature.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dermflow.config import TrustConfig
from dermflow.trust.calibration_metrics import classwise_ece, expected_calibration_error
from dermflow.trust.conformal_sets import conformal_threshold, prediction_sets
from dermflow.trust.feature_distance import FeatureDistance, fit_feature_distance, in_scope_pvalue
from dermflow.trust.temperature_scaling import fit_temperature, softmax

MIN_PART = 2


@dataclass(frozen=True)
class TrustParameters:
    """What the exported model applies in every signature (model_exporter.ClassifierServing)."""

    temperature: float
    distance: FeatureDistance
    reference_distances: np.ndarray  # float32 [n], sorted: part B's in-scope distances
    distance_threshold: float  # a distance above it is out of scope
    conformal_quantile: float  # the set holds c when p_c >= 1 - conformal_quantile
    in_scope_retention: float
    conformal_coverage: float
    fit: dict = field(default_factory=dict)  # sizes, split, ECE before/after on the fitting parts

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

    def in_scope_score(self, features: np.ndarray) -> np.ndarray:
        return in_scope_pvalue(self.distance.distance(features), self.reference_distances)

    def out_of_scope(self, features: np.ndarray) -> np.ndarray:
        return self.distance.distance(features) > self.distance_threshold

    def summary(self) -> dict:
        """JSON-ready: the fitted values (not the detector's matrices) and the fitting figures."""
        return {
            "temperature": self.temperature,
            "out_of_scope": {
                "method": "mahalanobis_l2_normalised_penultimate_features",
                "in_scope_retention": self.in_scope_retention,
                "distance_threshold": None if math.isinf(self.distance_threshold) else self.distance_threshold,
                "reference_size": int(self.reference_distances.size),
            },
            "conformal": {"coverage": self.conformal_coverage, "quantile": self.conformal_quantile,
                          "score": "1 - calibrated probability of the true label"},
            "fit": self.fit,
        }


def _quantile_rank(values: np.ndarray, level: float) -> float:
    """The ceil((n+1) level)-th smallest value; inf when n is too small for that level."""
    values = np.sort(np.asarray(values, dtype=np.float64))
    rank = math.ceil((values.size + 1) * level)
    return float(values[rank - 1]) if 0 < rank <= values.size else math.inf


def fit_trust(logits: np.ndarray, features: np.ndarray, labels: np.ndarray, cfg: TrustConfig,
              split: str = "test") -> TrustParameters:
    """``logits`` [N, C], ``features`` [N, D] (the classifier's dense input), ``labels`` [N] of held-out images."""
    logits = np.asarray(logits, dtype=np.float64)
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    num_classes = logits.shape[1]
    if labels.size < 2 * MIN_PART:
        params = TrustParameters.identity(num_classes, features.shape[1])
        return TrustParameters(**{**params.__dict__, "fit": {"fitted": False, "reason": f"{labels.size} held-out images"}})
    order = np.random.default_rng(cfg.seed).permutation(labels.size)
    part_a, part_b = np.sort(order[: labels.size // 2]), np.sort(order[labels.size // 2 :])

    temperature = fit_temperature(logits[part_a], labels[part_a])
    detector = fit_feature_distance(features[part_a], labels[part_a], num_classes)
    reference = np.sort(detector.distance(features[part_b])).astype(np.float32)
    threshold = _quantile_rank(reference, cfg.in_scope_retention)
    calibrated_b = softmax(logits[part_b] / temperature)
    quantile = conformal_threshold(calibrated_b, labels[part_b], cfg.conformal_coverage)

    raw_b = softmax(logits[part_b])
    fit = {
        "fitted": True,
        "split": split,
        "sizes": {"held_out": int(labels.size), "part_a": int(part_a.size), "part_b": int(part_b.size)},
        "part_a": "temperature + feature-distance detector",
        "part_b": "out-of-scope threshold + conformal quantile; ECE below is measured on it",
        "ece_bins": cfg.ece_bins,
        "ece_before": expected_calibration_error(raw_b, labels[part_b], cfg.ece_bins),
        "ece_after": expected_calibration_error(calibrated_b, labels[part_b], cfg.ece_bins),
    }
    return TrustParameters(temperature, detector, reference, threshold, quantile, cfg.in_scope_retention,
                           cfg.conformal_coverage, fit)


def evaluate_trust(trust: TrustParameters, logits: np.ndarray, features: np.ndarray, labels: np.ndarray,
                   bins: int = 15) -> dict:
    """ECE before/after (top-label and per class), coverage, set sizes and in-scope flag rate on in-scope images."""
    labels = np.asarray(labels, dtype=np.int64)
    raw = softmax(np.asarray(logits, dtype=np.float64))
    calibrated = trust.calibrated(logits)
    sets = prediction_sets(calibrated, trust.conformal_quantile)
    sizes = sets.sum(axis=1)
    return {
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
