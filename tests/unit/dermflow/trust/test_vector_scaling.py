import numpy as np

from dermflow.trust import classwise_ece, expected_calibration_error, fit_temperature, softmax
from dermflow.trust.vector_scaling import apply_vector_scaling, fit_vector_scaling


def _draw(n, rng, true_scale, true_bias):
    logits = rng.normal(0, 2, (n, 3))
    p = softmax(logits * true_scale + true_bias)
    labels = np.array([rng.choice(3, p=row) for row in p])
    return logits, labels


def test_recovers_per_class_scales_and_beats_one_temperature():
    rng = np.random.default_rng(0)
    true_scale, true_bias = np.array([0.3, 1.0, 0.6]), np.array([0.5, 0.0, -0.5])
    logits, labels = _draw(6000, rng, true_scale, true_bias)
    scale, bias = fit_vector_scaling(logits, labels)
    np.testing.assert_allclose(scale, true_scale, atol=0.1)
    np.testing.assert_allclose(bias - bias.mean(), true_bias - true_bias.mean(), atol=0.15)  # softmax ignores a shift
    fresh, fresh_labels = _draw(6000, rng, true_scale, true_bias)
    vector = apply_vector_scaling(fresh, scale, bias)
    temperature = softmax(fresh / fit_temperature(logits, labels))
    assert expected_calibration_error(vector, fresh_labels) < 0.025
    assert max(classwise_ece(vector, fresh_labels)) < max(classwise_ece(temperature, fresh_labels)) / 2

    def nll(p):
        return -np.mean(np.log(p[np.arange(len(fresh_labels)), fresh_labels]))
    assert nll(vector) < nll(temperature) - 0.01
