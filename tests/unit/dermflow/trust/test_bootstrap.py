import numpy as np
import pytest

from dermflow.trust import auroc, bootstrap_interval


def test_the_interval_of_a_mean_matches_the_normal_approximation():
    rng = np.random.default_rng(0)
    values = rng.normal(10.0, 2.0, 400)
    interval = bootstrap_interval(np.mean, values, draws=2000, seed=1)
    half_width = 1.96 * values.std() / np.sqrt(values.size)  # 0.196
    assert interval.value == pytest.approx(values.mean())
    assert interval.low < interval.value < interval.high
    assert (interval.high - interval.low) / 2 == pytest.approx(half_width, rel=0.15)
    assert interval.n == 400 and interval.draws == 2000 and interval.level == 0.95


def test_the_interval_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    for trial in range(200):
        values = rng.binomial(1, 0.3, 150).astype(float)
        interval = bootstrap_interval(np.mean, values, draws=300, seed=trial)
        covered += interval.low <= 0.3 <= interval.high
    assert 178 <= covered <= 199  # binomial 99% range of 0.95 * 200 is [183, 197]; percentile intervals run a bit low


def test_strata_keep_their_counts_and_the_same_seed_repeats():
    scores = np.r_[np.linspace(0, 1, 50), np.linspace(0.5, 1.5, 10)]
    is_other = np.r_[np.zeros(50, bool), np.ones(10, bool)]
    seen = []

    def statistic(s, o):
        seen.append(int(o.sum()))
        return auroc(s[~o], s[o])

    first = bootstrap_interval(statistic, scores, is_other, draws=100, seed=3, strata=is_other)
    assert set(seen[1:]) == {10}  # every draw: 10 others, 50 targets
    again = bootstrap_interval(lambda s, o: auroc(s[~o], s[o]), scores, is_other, draws=100, seed=3, strata=is_other)
    assert (first.low, first.high) == (again.low, again.high)
    assert first.low < first.value < first.high


def test_undefined_draws_are_left_out_and_lengths_must_agree():
    values = np.r_[np.zeros(3), 1.0]  # a draw without the 1 has no positive: nan
    interval = bootstrap_interval(lambda v: auroc(v[v == 0], v[v == 1]) if (v == 1).any() else float("nan"),
                                  values, draws=200, seed=0)
    assert 0 < interval.draws < 200
    with pytest.raises(ValueError):
        bootstrap_interval(np.mean, np.zeros(3), np.zeros(4))
