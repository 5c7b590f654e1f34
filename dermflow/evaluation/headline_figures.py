"""The report's headline figures, each with the split it was measured on, its n and a 95% interval.

    figures = headline_figures(truth, probabilities, labels, split="test", names={"MEL": "melanoma", ...})
    for figure in figures: figure.name, figure.value, figure.low, figure.high, figure.n, figure.method

Balanced accuracy, AUC (one class against the rest) and the top-label ECE get percentile bootstrap
intervals (images resampled, :mod:`dermflow.trust.bootstrap`); a class's sensitivity, a proportion,
gets the Wilson interval. A figure that cannot be measured (a class absent from the split) is left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from dermflow.isic.class_names import shown
from dermflow.trust import auroc, bootstrap_interval, expected_calibration_error
from dermflow.trust.binomial_interval import wilson_interval
from dermflow.trust.plain_words import TRUST_MEANINGS

DRAWS = 1000


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    low: float
    high: float
    n: int  # images it is measured on
    split: str
    method: str  # "bootstrap" or "Wilson"
    meaning: str  # one sentence for a reader


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """The mean recall over the classes present in ``truth``."""
    classes = np.unique(truth)
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in classes])) if classes.size else float("nan")


def headline_figures(truth, probabilities, labels: Sequence[str], split: str, names: Mapping[str, str] | None = None,
                     draws: int = DRAWS, bins: int = 15) -> list[Figure]:
    truth = np.asarray(truth, np.int64)
    probabilities = np.asarray(probabilities, np.float64)
    if truth.size == 0:
        return []
    predicted = probabilities.argmax(axis=1)
    n = int(truth.size)
    figures = []
    overall = bootstrap_interval(lambda t, p: balanced_accuracy(t, p), truth, predicted, draws=draws)
    figures.append(Figure("balanced accuracy", overall.value, overall.low, overall.high, n, split, "bootstrap",
                          TRUST_MEANINGS["balanced_accuracy"]))
    for index, label in enumerate(labels):
        members = truth == index
        if not members.any():
            continue
        hits, total = int(np.sum(predicted[members] == index)), int(members.sum())
        low, high = wilson_interval(hits, total)
        figures.append(Figure(f"sensitivity, {shown(label, names)}", hits / total, low, high, total, split, "Wilson",
                              TRUST_MEANINGS["sensitivity"]))
    for index, label in enumerate(labels):
        positive = truth == index
        if positive.all() or not positive.any():
            continue
        area = bootstrap_interval(lambda s, y: auroc(s[~y], s[y]), probabilities[:, index], positive, draws=draws, strata=positive)
        figures.append(Figure(f"AUC, {shown(label, names)} against the rest", area.value, area.low, area.high, n, split,
                              "bootstrap", TRUST_MEANINGS["auc"]))
    ece = bootstrap_interval(lambda p, t: expected_calibration_error(p, t, bins), probabilities, truth, draws=draws)
    figures.append(Figure("calibration error (ECE, top label)", ece.value, ece.low, ece.high, n, split, "bootstrap",
                          TRUST_MEANINGS["ece"]))
    return figures
