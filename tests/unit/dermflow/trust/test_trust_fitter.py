import math

import numpy as np

from dermflow.config import TrustConfig
from dermflow.trust import fit_trust, softmax
from dermflow.trust.trust_fitter import TrustParameters, evaluate_trust


def _held_out(n, rng, scale=4.0):
    means = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
    labels = rng.integers(0, 3, n)
    features = means[labels] + rng.normal(0, 1.0, (n, 4))
    logits = features[:, :3] * scale  # over-confident: the Bayes logits are ~ features * 3 / 1
    return logits, features, labels


def test_fit_uses_disjoint_halves_and_lowers_ece():
    rng = np.random.default_rng(0)
    trust = fit_trust(*_held_out(2000, rng), TrustConfig())
    assert trust.fit["sizes"] == {"held_out": 2000, "part_a": 1000, "part_b": 1000}
    assert trust.temperature > 1.0
    assert trust.fit["ece_after"] < trust.fit["ece_before"]
    figures = evaluate_trust(trust, *_held_out(2000, rng))
    assert figures["ece_after"] < figures["ece_before"]
    assert 0.93 <= 1 - figures["in_scope_flag_rate"] <= 0.97  # retention 0.95 on fresh in-scope images
    assert 0.88 <= figures["coverage"] <= 0.92


def test_too_little_data_leaves_the_identity():
    rng = np.random.default_rng(0)
    trust = fit_trust(*_held_out(3, rng), TrustConfig())
    assert not trust.fitted and trust.temperature == 1.0 and math.isinf(trust.distance_threshold)


def test_identity_flags_nothing_and_gives_full_sets():
    trust = TrustParameters.identity(3, 4)
    features = np.random.default_rng(0).normal(0, 50, (5, 4))
    assert not trust.out_of_scope(features).any()
    assert (trust.in_scope_score(features) == 1.0).all()
    np.testing.assert_allclose(trust.calibrated(np.eye(3)), softmax(np.eye(3)))
