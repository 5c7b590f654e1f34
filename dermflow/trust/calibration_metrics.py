"""Expected calibration error: top-label, per class, and the reliability diagram's bins.

    ece = expected_calibration_error(probabilities, labels, bins=15)
    per_class = classwise_ece(probabilities, labels, bins=15)      # [C]
    rows = reliability_bins(probabilities, labels, bins=15)         # for the report's diagram

Top-label ECE: confidences (max probability) in equal-width bins; the weighted mean over bins of
|accuracy - mean confidence|. Class-wise ECE of class c: the same with the probability of c
against "the label is c", over all images. Both are 0 for a perfectly calibrated model.
"""
from __future__ import annotations

import numpy as np


def _binned_gap(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    if confidence.size == 0:
        return float("nan")
    index = np.clip((confidence * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / confidence.size)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    return _binned_gap(confidence, correct, bins)


def classwise_ece(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> list[float]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    return [
        _binned_gap(probabilities[:, c], (labels == c).astype(np.float64), bins)
        for c in range(probabilities.shape[1])
    ]


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> list[dict]:
    """One row per non-empty bin: ``lower``, ``upper``, ``count``, ``confidence``, ``accuracy``."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    index = np.clip((confidence * bins).astype(int), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append({
                "lower": b / bins, "upper": (b + 1) / bins, "count": int(mask.sum()),
                "confidence": float(confidence[mask].mean()), "accuracy": float(correct[mask].mean()),
            })
    return rows
