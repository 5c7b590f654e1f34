"""Split conformal prediction sets over calibrated probabilities (the LAC / "1 - p_true" score).

    q = conformal_threshold(probabilities, labels, coverage=0.90)   # on held-out data
    sets = prediction_sets(new_probabilities, q)                     # bool [N, C]: p_c >= 1 - q

Guarantee: when the calibration images and a new image are exchangeable, the new image's set holds
its true label with probability at least ``coverage`` (marginal over images, not per image or
per class), and at most ``coverage + 1/(n+1)``. Sadinle, Lei & Wasserman (2019); Angelopoulos &
Bates, "A Gentle Introduction to Conformal Prediction" (2021).
"""
from __future__ import annotations

import math

import numpy as np


def conformal_threshold(probabilities: np.ndarray, labels: np.ndarray, coverage: float) -> float:
    """The ceil((n+1) coverage)-th smallest score 1 - p_true; 1.0 (every set full) when n is too small."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.size
    rank = math.ceil((n + 1) * coverage)
    if n == 0 or rank > n:
        return 1.0
    scores = np.sort(1.0 - probabilities[np.arange(n), labels])
    return float(scores[rank - 1])


def prediction_sets(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """bool [N, C]: the labels whose score 1 - p_c is within the threshold (as the exported model computes)."""
    return np.asarray(probabilities, dtype=np.float64) >= 1.0 - threshold
