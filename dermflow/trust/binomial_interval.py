"""Binomial intervals: for a share of successes (a sensitivity), and for a mean of such shares (balanced accuracy).

    wilson_interval(41, 50)                        # (0.69, 0.90): 41 of 50 melanomas called melanoma
    mean_of_shares_interval([41, 30], [50, 40])     # the balanced accuracy of two classes, with its interval

The Wilson score interval keeps to [0, 1] and stays sensible at 0 or n successes, unlike the
normal approximation. A mean of K independent shares (each class its own binomial) gets a normal
interval whose variance is the sum of each class's, from Agresti-Caffo adjusted shares
((x + 2) / (n + 4)), so that a class at 0 % or 100 % still adds its uncertainty; it is clipped to [0, 1].
"""
from __future__ import annotations

import math
from statistics import NormalDist

DEFAULT_LEVEL = 0.95


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson_interval(successes: int, n: int, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """(low, high) of the share ``successes / n``; (0, 1) when n is 0."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError("need 0 <= successes <= n")
    if n == 0:
        return 0.0, 1.0
    z = _z(level)
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def mean_of_shares_interval(successes: list[int], totals: list[int], level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """(low, high) of the mean of the shares ``successes[k] / totals[k]`` over the classes with totals[k] > 0."""
    pairs = [(x, n) for x, n in zip(successes, totals, strict=True) if n > 0]
    if not pairs:
        return 0.0, 1.0
    k = len(pairs)
    mean = sum(x / n for x, n in pairs) / k
    variance = sum(((x + 2) / (n + 4)) * (1 - (x + 2) / (n + 4)) / (n + 4) for x, n in pairs) / (k * k)
    half = _z(level) * math.sqrt(variance)
    return max(0.0, mean - half), min(1.0, mean + half)
