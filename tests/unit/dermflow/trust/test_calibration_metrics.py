import numpy as np
import pytest

from dermflow.trust import classwise_ece, expected_calibration_error, reliability_bins


def test_a_confident_wrong_model_has_ece_of_its_confidence():
    probabilities = np.tile([0.9, 0.05, 0.05], (10, 1))
    labels = np.ones(10, int)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.9)


def test_a_calibrated_bin_has_no_gap():
    probabilities = np.tile([0.75, 0.25], (8, 1))
    labels = np.array([0, 0, 0, 1, 0, 0, 0, 1])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0)
    assert classwise_ece(probabilities, labels) == pytest.approx([0.0, 0.0])


def test_reliability_bins_count_every_image():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet([1, 1, 1], 200)
    rows = reliability_bins(probabilities, rng.integers(0, 3, 200), bins=10)
    assert sum(row["count"] for row in rows) == 200
    assert all(row["lower"] <= row["confidence"] <= row["upper"] for row in rows)
