import math

import numpy as np

from dermflow.config import TrustConfig
from dermflow.trust import fit_trust, softmax
from dermflow.trust.trust_fitter import OtherDiagnoses, TrustParameters, evaluate_trust


def _held_out(n, rng, scale=4.0):
    means = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
    labels = rng.integers(0, 3, n)
    features = means[labels] + rng.normal(0, 1.0, (n, 4))
    logits = features[:, :3] * scale  # over-confident: the Bayes logits are ~ features * 3 / 1
    return logits, features, labels


def test_fit_uses_disjoint_halves_and_lowers_ece():
    rng = np.random.default_rng(0)
    trust = fit_trust(*_held_out(2000, rng), TrustConfig())
    assert trust.fit["sizes"] == {"held_out": 2000, "part_a": 1000, "part_b": 1000, "others_part_a": 0, "others_part_b": 0}
    assert trust.temperature > 1.0
    assert trust.fit["ece_after"] < trust.fit["ece_before"]
    figures = evaluate_trust(trust, *_held_out(2000, rng))
    assert figures["ece_after"] < figures["ece_before"]
    assert 0.93 <= 1 - figures["in_scope_flag_rate"] <= 0.97  # retention 0.95 on fresh in-scope images
    assert 0.88 <= figures["coverage"] <= 0.92


def test_fit_halves_are_the_halves_fit_trust_uses():
    from dermflow.trust import fit_halves, fit_temperature

    logits, features, labels = _held_out(400, np.random.default_rng(1))
    trust = fit_trust(logits, features, labels, TrustConfig(seed=7))
    part_a, part_b = fit_halves(400, 7)
    assert (part_a.size, part_b.size) == (200, 200) and not set(part_a) & set(part_b)
    assert trust.temperature == fit_temperature(logits[part_a], labels[part_a])  # part A, and only it, fitted it
    assert trust.temperature != fit_temperature(logits[fit_halves(400, 8)[0]], labels[fit_halves(400, 8)[0]])


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


def _others(n, rng, scale=4.0):
    """Two other diagnoses, each between two target clusters (a softmax is unsure about neither)."""
    means = np.array([[2.0, 2.0, 0, 0], [0, 2.0, 2.0, 0]])
    index = rng.integers(0, 2, n)
    features = means[index] + rng.normal(0, 0.6, (n, 4))
    return OtherDiagnoses(features[:, :3] * scale, features, np.array(["BKL", "DF"])[index])


def test_other_diagnoses_enter_the_detector_and_the_figures():
    rng = np.random.default_rng(4)
    cfg = TrustConfig(other_class_weight=1.0)
    trust = fit_trust(*_held_out(1000, rng), cfg, others=_others(400, rng))
    novelty = fit_trust(*_held_out(1000, np.random.default_rng(4)), cfg)
    assert trust.distance.other_codes == ("BKL", "DF") and novelty.distance.other_codes == ()
    assert trust.fit["sizes"]["others_part_a"] == 200 and trust.fit["sizes"]["others_part_b"] == 200
    summary = trust.summary()["out_of_scope"]
    assert summary["other_classes"] == ["BKL", "DF"] and summary["other_class_weight"] == 1.0
    assert summary["method"] != novelty.summary()["out_of_scope"]["method"]

    fresh, fresh_others = _held_out(1000, rng), _others(400, rng)
    figures = evaluate_trust(trust, *fresh, others=fresh_others)["out_of_scope"]
    figures_novelty = evaluate_trust(novelty, *fresh, others=fresh_others)["out_of_scope"]
    assert set(figures["per_class"]) == {"BKL", "DF"}
    assert figures["auroc"] > 0.88 and figures["auroc"] > figures_novelty["auroc"] + 0.1  # measured 0.92 vs 0.76
    assert figures["other_flag_rate"] > figures_novelty["other_flag_rate"] + 0.3  # measured 0.48 vs 0.03
    assert 0.93 <= 1 - figures["target_flag_rate"] <= 0.97  # the threshold still keeps 95% of the targets
    assert 0.0 <= figures["auroc_max_softmax"] <= 1.0
    assert trust.fit["out_of_scope"]["others"] == 200
