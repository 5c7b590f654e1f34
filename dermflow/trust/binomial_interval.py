"""The Wilson score interval of a proportion: k successes in n trials.

    wilson_interval(41, 50)          # Interval(value=0.82, low=0.69, high=0.90, n=50, ...)

Better than the normal approximation at small n and near 0 or 1 (Wilson, 1927): the reviewed cases
of a hospital and a class's sensitivity on a small test split are both such cases.
"""
from __future__ import annotations

import math

from scipy.stats import norm

from dermflow.trust.bootstrap import DEFAULT_LEVEL, Interval


def wilson_interval(successes: int, n: int, level: float = DEFAULT_LEVEL) -> Interval:
    if n <= 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, 0, level)
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: {successes} successes in {n} trials")
    z = float(norm.ppf(0.5 + level / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, n, 0, level)
