import numpy as np
from scipy.stats import binom

from dermflow.trust import conformal_threshold, prediction_sets, softmax


def _draw(n, rng, classes=4):
    logits = rng.normal(0, 2.0, (n, classes))
    probabilities = softmax(logits)
    labels = np.array([rng.choice(classes, p=p) for p in probabilities])
    return probabilities, labels


def test_coverage_on_a_held_out_split_is_inside_the_binomial_interval():
    rng = np.random.default_rng(1)
    calibration = _draw(20000, rng)  # large: the quantile's own spread is small next to the test split's
    test_probabilities, test_labels = _draw(2000, rng)
    q = conformal_threshold(*calibration, coverage=0.9)
    sets = prediction_sets(test_probabilities, q)
    covered = int(sets[np.arange(test_labels.size), test_labels].sum())
    low, high = binom.interval(0.95, test_labels.size, 0.9)
    assert low <= covered <= high
    assert 1.0 < sets.sum(1).mean() < 4.0  # not trivially full


def test_too_few_calibration_images_give_full_sets():
    rng = np.random.default_rng(2)
    q = conformal_threshold(*_draw(5, rng), coverage=0.9)
    assert q == 1.0
    assert prediction_sets(_draw(3, rng)[0], q).all()
