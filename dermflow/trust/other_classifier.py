"""A learned "other diagnoses" score: logistic regression, targets vs the archive's other diagnoses.

    classifier = fit_other_classifier(target_features, other_features, regularisation=1.0)  # None: too few others
    logit = classifier.logit(features)       # [N], larger = more like the other diagnoses

One linear layer on the L2-normalised penultimate features (the same features the feature-distance
detector reads), class-balanced (each class weighs as much in the loss as the other, whatever their
counts), fitted by scikit-learn with an L2 penalty of strength 1 / ``regularisation`` (its ``C``).
Features are standardised for the fit; the scaling is folded into ``weights`` and ``bias``, so the
logit is ``l2_normalize(x) @ weights + bias`` and the exported model needs nothing else.

It learns the other diagnoses it was shown (memory, not novelty): it has no reason to score a photo or
an unseen diagnosis high. :mod:`dermflow.trust.score_combination` combines it with the
feature-distance score, which does (docs/trust.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dermflow.trust.feature_distance import l2_normalize

MIN_OTHER_IMAGES = 10  # fewer other-diagnosis images in the fitting part: no classifier (today's detector)
METHOD = "logistic_regression_targets_vs_other_diagnoses_l2_normalised_penultimate_features"


@dataclass(frozen=True)
class OtherClassifier:
    weights: np.ndarray  # float32 [D], applied to L2-normalised features
    bias: float
    regularisation: float  # scikit-learn's C

    def logit(self, features: np.ndarray) -> np.ndarray:
        """log-odds of "other diagnosis" (class-balanced), [N]."""
        return l2_normalize(features) @ np.asarray(self.weights, np.float64) + self.bias


def fit_other_classifier(target_features: np.ndarray, other_features: np.ndarray | None,
                         regularisation: float, seed: int = 0) -> OtherClassifier | None:
    """Targets (label 0) vs other diagnoses (label 1), class-balanced; None with < MIN_OTHER_IMAGES others."""
    from sklearn.linear_model import LogisticRegression

    if other_features is None or len(other_features) < MIN_OTHER_IMAGES or len(target_features) < MIN_OTHER_IMAGES:
        return None
    features = l2_normalize(np.r_[np.asarray(target_features, np.float64), np.asarray(other_features, np.float64)])
    is_other = np.r_[np.zeros(len(target_features), np.int64), np.ones(len(other_features), np.int64)]
    centre = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    model = LogisticRegression(C=regularisation, class_weight="balanced", max_iter=2000, random_state=seed)
    model.fit((features - centre) / scale, is_other)
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0] - weights @ centre)
    return OtherClassifier(weights.astype(np.float32), bias, float(regularisation))
