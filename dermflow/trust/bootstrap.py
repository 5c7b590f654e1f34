"""Percentile bootstrap intervals: resample the images, recompute the figure, take the middle 95%.

    interval = bootstrap_interval(balanced_accuracy, truth, predicted)            # Interval(value, low, high, n)
    interval = bootstrap_interval(lambda s, o: auroc(s[~o], s[o]), scores, is_other, strata=is_other)
    interval.as_dict()   # {"value", "low", "high", "n", "draws", "level"}

Each draw takes n images with replacement (within each stratum when ``strata`` is given, so that
e.g. the counts of targets and of other diagnoses stay fixed) and evaluates ``statistic`` on the same
rows of every array. Draws where the figure is undefined (nan) are left out. Images, not lesions or
patients, are resampled: where several images show one lesion the interval is somewhat too narrow.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

DEFAULT_DRAWS = 1000
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    value: float  # the figure on the data as it is
    low: float
    high: float
    n: int  # images it is measured on
    draws: int  # bootstrap draws where the figure was defined
    level: float

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_interval(statistic: Callable[..., float], *arrays, draws: int = DEFAULT_DRAWS, seed: int = 0,
                       level: float = DEFAULT_LEVEL, strata=None) -> Interval:
    """The figure and its percentile interval over ``draws`` resamples of the rows of ``arrays`` (same length)."""
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"bootstrap_interval: arrays of lengths {[len(a) for a in arrays]}")
    value = float(statistic(*arrays)) if n else float("nan")
    if n == 0:
        return Interval(value, float("nan"), float("nan"), 0, 0, level)
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(np.asarray(strata) == s) for s in np.unique(strata)]
    values = []
    for _ in range(draws):
        index = np.concatenate([g[rng.integers(0, g.size, g.size)] for g in groups])
        values.append(float(statistic(*(a[index] for a in arrays))))
    values = np.asarray(values)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return Interval(value, float("nan"), float("nan"), n, 0, level)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return Interval(value, float(low), float(high), n, int(values.size), level)
