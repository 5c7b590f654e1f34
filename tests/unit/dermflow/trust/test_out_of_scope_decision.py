"""The out-of-scope decision's numpy half: two ranked signals, one threshold, which signal fired, the flag's status."""
import math

import numpy as np
import pytest

from dermflow.trust.feature_distance import in_scope_pvalue
from dermflow.trust.out_of_scope_decision import (CANNOT_FIRE, FALLBACK, RETENTION, fit_out_of_scope_decision,
                                                  images_needed)


def test_without_memory_the_decision_flags_what_the_distance_alone_flags():
    """Ranks order images as the distances do: the same in-scope score and the same flags as a threshold on d."""
    rng = np.random.default_rng(0)
    reference, fresh = rng.gamma(2.0, 1.0, 400), rng.gamma(2.0, 1.3, 1000)
    decision = fit_out_of_scope_decision(reference, None, 0.95)
    memory = np.full(fresh.size, -np.inf)
    sorted_reference = np.sort(reference)
    distance_threshold = sorted_reference[math.ceil(401 * 0.95) - 1]
    np.testing.assert_array_equal(decision.out_of_scope(fresh, memory), fresh > distance_threshold)
    np.testing.assert_allclose(decision.in_scope_score(fresh, memory), in_scope_pvalue(fresh, reference))
    assert decision.summary()["signals"] == ["novelty"]


def test_either_signal_raises_the_flag_and_says_which():
    rng = np.random.default_rng(1)
    novelty_b, memory_b = rng.normal(0, 1, 500), rng.normal(0, 1, 500)
    decision = fit_out_of_scope_decision(novelty_b, memory_b, 0.95)
    novelty = np.array([0.0, 9.0, 0.0, 9.0])
    memory = np.array([0.0, 0.0, 9.0, 9.0])
    other_diagnosis, novel = decision.fired(novelty, memory)
    assert decision.out_of_scope(novelty, memory).tolist() == [False, True, True, True]
    assert other_diagnosis.tolist() == [False, False, True, True] and novel.tolist() == [False, True, False, True]
    score = decision.in_scope_score(novelty, memory)
    assert score[0] > 0.3 and score[1] == score[2] == score[3] == pytest.approx(1 / 501)


def test_the_threshold_keeps_the_retention_of_fresh_in_scope_images():
    rng = np.random.default_rng(2)
    decision = fit_out_of_scope_decision(rng.normal(0, 1, 1000), rng.normal(0, 1, 1000), 0.95)
    fresh = decision.out_of_scope(rng.normal(0, 1, 20000), rng.normal(0, 1, 20000))
    assert 0.04 <= fresh.mean() <= 0.06
    assert decision.flag["status"] == RETENTION and decision.flag["held_out_in_scope"] == 1000


def test_images_needed_is_the_smallest_reference_the_quantile_exists_for():
    assert images_needed(0.95) == 19 and images_needed(0.9) == 9 and images_needed(0.5) == 1
    for retention in (0.8, 0.9, 0.95, 0.99):
        n = images_needed(retention)
        assert math.ceil((n + 1) * retention - 1e-9) <= n  # n images are enough,
        assert math.ceil(n * retention - 1e-9) > n - 1  # n - 1 are not


def test_a_small_reference_falls_back_to_beyond_every_held_out_image_and_says_so():
    rng = np.random.default_rng(3)
    decision = fit_out_of_scope_decision(rng.normal(0, 1, 9), rng.normal(0, 1, 9), 0.95)
    assert decision.flag["status"] == FALLBACK
    assert (decision.flag["held_out_in_scope"], decision.flag["needed"]) == (9, 19)
    assert "2/10" in decision.flag["promise"]
    far, inside = np.array([50.0]), np.array([0.0])
    assert decision.out_of_scope(far, inside).all() and decision.out_of_scope(inside, far).all()
    assert not decision.out_of_scope(inside, inside).any()
    fresh = decision.out_of_scope(rng.normal(0, 1, 20000), rng.normal(0, 1, 20000)).mean()
    assert fresh <= 2 / 10 + 0.02  # the promise: beyond all 9 in either signal


def test_no_reference_cannot_fire():
    decision = fit_out_of_scope_decision(np.zeros(0), None, 0.95)
    assert decision.flag["status"] == CANNOT_FIRE and math.isinf(decision.threshold)
    assert not decision.out_of_scope(np.array([1e9]), np.array([0.0])).any()
