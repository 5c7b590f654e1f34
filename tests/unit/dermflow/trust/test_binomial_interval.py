"""Wilson intervals: known values, the edges, and refusals."""
from __future__ import annotations

import math

import pytest

from dermflow.trust.binomial_interval import wilson_interval


def test_a_known_value():
    interval = wilson_interval(41, 50)
    assert interval.value == pytest.approx(0.82)
    assert (interval.low, interval.high) == pytest.approx((0.6920, 0.9022), abs=1e-3)
    assert interval.n == 50


def test_the_edges_stay_inside_zero_and_one():
    none, every = wilson_interval(0, 10), wilson_interval(10, 10)
    assert none.low == 0.0 and 0.2 < none.high < 0.35
    assert every.high == 1.0 and 0.65 < every.low < 0.8
    assert math.isnan(wilson_interval(0, 0).value)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
