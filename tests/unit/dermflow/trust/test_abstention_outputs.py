import numpy as np

from dermflow.trust import memory_score, other_diagnosis_probability, softmax, target_probabilities


def test_target_probabilities_are_renormalised_over_the_targets_then_calibrated():
    logits = np.random.default_rng(0).normal(0, 3, (20, 5))
    full = softmax(logits)
    renormalised = full[:, :3] / full[:, :3].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(target_probabilities(logits, 3), renormalised)
    np.testing.assert_allclose(target_probabilities(logits, 3, 2.0), softmax(logits[:, :3] / 2.0))
    np.testing.assert_allclose(target_probabilities(logits, 3, 2.0).sum(axis=1), 1.0)


def test_memory_is_the_log_odds_of_the_abstention_mass():
    logits = np.random.default_rng(1).normal(0, 3, (20, 5))
    mass = softmax(logits)[:, 3:].sum(axis=1)
    np.testing.assert_allclose(other_diagnosis_probability(logits, 3), mass)
    np.testing.assert_allclose(memory_score(logits, 3), np.log(mass / (1 - mass)), rtol=1e-9)


def test_without_abstention_outputs_there_is_no_memory():
    logits = np.random.default_rng(2).normal(0, 3, (4, 3))
    assert np.isneginf(memory_score(logits, 3)).all()
    np.testing.assert_allclose(other_diagnosis_probability(logits, 3), 0.0)
