"""Novelty: Mahalanobis distance of the penultimate features to the nearest target class mean.

    detector = fit_feature_distance(features, labels, num_classes)
    d = detector.distance(features)       # [N], larger = less like the targets

Features are L2-normalised first (on the synthetic archive this lifts the AUROC against the other
diagnoses from 0.69 to 0.81; docs/trust.md). Class means with one shared, Ledoit-Wolf shrunk
covariance (Lee et al., 2018) of the target classes, each centred on its own mean. An image unlike
every training class (a photo, a document, a diagnosis never seen) lies far from all means, even
where the softmax is confident: this is the decision's novelty signal
(:mod:`dermflow.trust.out_of_scope_decision`; the abstention outputs give its memory).
:func:`max_softmax_score` and :func:`energy_score` are the baselines it is compared with
(docs/trust.md); every score here grows with "out of scope".

Issue 30 removed the other diagnoses' means (``d_in + beta (d_in - d_other)``): they added +0.006
AUROC on the real sample (docs/trust.md), and the abstention outputs learn those diagnoses instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.covariance import LedoitWolf

METHOD = "mahalanobis_l2_normalised_penultimate_features"


@dataclass(frozen=True)
class FeatureDistance:
    means: np.ndarray  # float32 [C, D]: target class means
    precision: np.ndarray  # float32 [D, D]
    method: str = METHOD

    def distance(self, features: np.ndarray) -> np.ndarray:
        """d: squared Mahalanobis distance to the nearest target mean, [N] (as the exported model computes it)."""
        return squared_mahalanobis(l2_normalize(features), self.means, self.precision).min(axis=1)

    @classmethod
    def identity(cls, num_classes: int, dim: int) -> "FeatureDistance":
        return cls(np.zeros((num_classes, dim), np.float32), np.eye(dim, dtype=np.float32))


def l2_normalize(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (as ``tf.math.l2_normalize`` does in the exported model, epsilon 1e-12)."""
    features = np.asarray(features, dtype=np.float64)
    return features / np.sqrt(np.maximum((features**2).sum(axis=1, keepdims=True), 1e-12))


def squared_mahalanobis(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """[N, M]: (x - m)^T P (x - m) for every row x and mean m, in float64 (P symmetric), from the differences as the
    exported model computes it (expanding the product cancels badly when the features barely differ)."""
    x = np.asarray(features, np.float64)
    p = np.asarray(precision, np.float64)
    out = np.empty((len(x), len(means)))
    for column, mean in enumerate(np.asarray(means, np.float64)):
        diff = x - mean
        out[:, column] = ((diff @ p) * diff).sum(axis=1)
    return out


def fit_feature_distance(features: np.ndarray, labels: np.ndarray, num_classes: int) -> FeatureDistance:
    """Target class means (the overall mean for an absent class) and the targets' shrunk covariance."""
    features = l2_normalize(features)
    labels = np.asarray(labels, dtype=np.int64)
    overall = features.mean(axis=0)
    means = np.stack([
        features[labels == c].mean(axis=0) if (labels == c).any() else overall for c in range(num_classes)
    ])
    centred = features - means[labels]
    shrunk = LedoitWolf(assume_centered=True, store_precision=False).fit(centred).covariance_
    precision = np.linalg.inv(shrunk)  # shrinkage makes it well conditioned: no pseudo-inverse needed
    precision = (precision + precision.T) / 2.0
    return FeatureDistance(means.astype(np.float32), precision.astype(np.float32))


def max_softmax_score(probabilities: np.ndarray) -> np.ndarray:
    """1 - max probability (Hendrycks & Gimpel, 2017)."""
    return 1.0 - np.asarray(probabilities, dtype=np.float64).max(axis=1)


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """-T logsumexp(z / T) (Liu et al., 2020): low energy = in scope."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    top = scaled.max(axis=1)
    return -temperature * (top + np.log(np.exp(scaled - top[:, None]).sum(axis=1)))


def in_scope_pvalue(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(1 + #reference scores >= s) / (1 + n): the share of held-out in-scope images at least this unusual."""
    reference = np.sort(np.asarray(reference, dtype=np.float64))
    scores = np.asarray(scores, dtype=np.float64)
    at_least = reference.size - np.searchsorted(reference, scores, side="left")
    return (1.0 + at_least) / (1.0 + reference.size)
