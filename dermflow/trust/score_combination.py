"""The out-of-scope score from the feature-distance score and the other-diagnosis classifier's logit.

    combination = fit_score_combination("either_pvalue", distance_b, logit_b, logit_weight=1.0)
    score = combination.combine(distance_scores, logits)     # [N], larger = less like the targets

Both inputs are fitted on part A; ``distance_b`` and ``logit_b`` are the two scores of part B's
in-scope images (held out from both fits), which fix the combination's constants:

- ``either_pvalue``: ``(n + 1) (1 - min(p_distance, p_logit))``, each p the share of part B's n
  in-scope images at least as unusual by that score
  (:func:`~dermflow.trust.feature_distance.in_scope_pvalue`); equivalently the larger of the two
  counts of part-B images less unusual than the image. An integer, so numpy and the exported model's
  float32 agree on ties. An image is out of scope when *either* score is unusual, so an image far
  from every target (a photo) stays out of scope whatever the classifier says.
- ``weighted_sum``: ``z(distance) + logit_weight * z(logit)``, each standardised by part B's
  in-scope mean and standard deviation.

The threshold (``in_scope_retention``) is then taken on the combined score of part B, as for a
single score. Every score here grows with "out of scope"; the exported model computes the same
(``dermflow.models.trust_head.TrustHead``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMBINATIONS = ("either_pvalue", "weighted_sum")


@dataclass(frozen=True)
class ScoreCombination:
    method: str  # one of COMBINATIONS
    distance_reference: np.ndarray  # float32 [n], sorted: part B's in-scope feature-distance scores
    logit_reference: np.ndarray  # float32 [n], sorted: part B's in-scope classifier logits
    distance_centre: float
    distance_scale: float
    logit_centre: float
    logit_scale: float
    logit_weight: float  # gamma of weighted_sum

    def combine(self, distance_scores: np.ndarray, logits: np.ndarray) -> np.ndarray:
        distance_scores = np.asarray(distance_scores, np.float64)
        logits = np.asarray(logits, np.float64)
        if self.method == "either_pvalue":
            return np.maximum(_count_below(self.distance_reference, distance_scores),
                              _count_below(self.logit_reference, logits)).astype(np.float64)
        if self.method == "weighted_sum":
            return ((distance_scores - self.distance_centre) / self.distance_scale
                    + self.logit_weight * (logits - self.logit_centre) / self.logit_scale)
        raise ValueError(f"unknown score combination {self.method!r}; one of {COMBINATIONS}")

    def summary(self) -> dict:
        if self.method == "either_pvalue":
            return {"method": self.method, "score": "(n + 1) (1 - min(p-value of the feature-distance score, p-value "
                                                    "of the classifier logit)) against part B's n in-scope images",
                    "reference_size": int(self.distance_reference.size)}
        return {"method": self.method, "score": "(distance - centre) / scale + logit_weight * (logit - centre) / scale",
                "distance_centre": self.distance_centre, "distance_scale": self.distance_scale,
                "logit_centre": self.logit_centre, "logit_scale": self.logit_scale, "logit_weight": self.logit_weight}


def _count_below(sorted_reference: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """How many reference scores are below each score (= n + 1 - (n + 1) in_scope_pvalue)."""
    return np.searchsorted(np.asarray(sorted_reference, np.float64), scores, side="left")


def _centre_scale(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, np.float64)
    scale = float(values.std())
    return float(values.mean()), scale if scale > 1e-12 else 1.0


def fit_score_combination(method: str, distance_scores: np.ndarray, logits: np.ndarray,
                          logit_weight: float = 1.0) -> ScoreCombination:
    """Constants of ``method`` from part B's in-scope feature-distance scores and classifier logits."""
    if method not in COMBINATIONS:
        raise ValueError(f"unknown score combination {method!r}; one of {COMBINATIONS}")
    distance_centre, distance_scale = _centre_scale(distance_scores)
    logit_centre, logit_scale = _centre_scale(logits)
    return ScoreCombination(
        method, np.sort(np.asarray(distance_scores, np.float64)).astype(np.float32),
        np.sort(np.asarray(logits, np.float64)).astype(np.float32),
        distance_centre, distance_scale, logit_centre, logit_scale, float(logit_weight))
