import pytest

from dermflow.trust.binomial_interval import mean_of_shares_interval, wilson_interval


def test_wilson_matches_the_textbook_values():
    # Newcombe (1998), table I: 81/263 -> 0.2553-0.3662
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(10, 10) == (pytest.approx(0.7225, abs=1e-4), 1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    narrow, wide = wilson_interval(5, 10, level=0.5), wilson_interval(5, 10, level=0.99)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]


def test_the_interval_of_a_mean_of_shares_holds_the_mean_and_narrows_with_n():
    small = mean_of_shares_interval([4, 9], [5, 10])
    large = mean_of_shares_interval([400, 900], [500, 1000])
    assert small[0] < 0.85 < small[1] and large[0] < 0.85 < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 5
    assert mean_of_shares_interval([3, 0], [3, 0]) == mean_of_shares_interval([3], [3])  # a class without cases is left out
    assert mean_of_shares_interval([3], [3])[1] == 1.0 and mean_of_shares_interval([3], [3])[0] < 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
