import numpy as np

from dermflow.trust import expected_calibration_error, fit_temperature, softmax


def _overconfident(n=4000, classes=3, scale=4.0, seed=0):
    """Logits whose true calibration is at temperature 1; multiplied by ``scale`` they are over-confident."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 1.5, (n, classes))
    labels = np.array([rng.choice(classes, p=p) for p in softmax(true_logits)])
    return true_logits * scale, labels


def test_fitting_an_overconfident_model_recovers_its_temperature_and_lowers_ece():
    logits, labels = _overconfident()
    temperature = fit_temperature(logits, labels)
    assert 3.4 < temperature < 4.6
    before = expected_calibration_error(softmax(logits), labels)
    after = expected_calibration_error(softmax(logits / temperature), labels)
    assert before > 0.08
    assert after < before / 3


def test_temperature_keeps_the_argmax():
    logits, labels = _overconfident(n=500)
    temperature = fit_temperature(logits, labels)
    np.testing.assert_array_equal(softmax(logits / temperature).argmax(1), logits.argmax(1))


def test_an_empty_set_gives_temperature_one():
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, int)) == 1.0
