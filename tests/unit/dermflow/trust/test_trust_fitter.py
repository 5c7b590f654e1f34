import math

import numpy as np

from dermflow.config import TrustConfig
from dermflow.trust import OutOfScopeReason, fit_trust, softmax
from dermflow.trust.trust_fitter import OtherDiagnoses, TrustParameters, evaluate_trust

TARGET_MEANS = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])


def _held_out(n, rng, scale=4.0):
    labels = rng.integers(0, 3, n)
    features = TARGET_MEANS[labels] + rng.normal(0, 1.0, (n, 4))
    logits = features[:, :3] * scale  # over-confident: the Bayes logits are ~ features * 3 / 1
    return logits, features, labels


def test_fit_uses_disjoint_halves_and_lowers_ece():
    rng = np.random.default_rng(0)
    trust = fit_trust(*_held_out(2000, rng), TrustConfig())
    assert trust.fit["sizes"] == {"held_out": 2000, "part_a": 1000, "part_b": 1000, "others": 0}
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
    logits = np.eye(3)[[0, 1, 2, 0, 1]]
    assert not trust.out_of_scope(logits, features).any()
    assert (trust.in_scope_score(logits, features) == 1.0).all()
    np.testing.assert_allclose(trust.calibrated(np.eye(3)), softmax(np.eye(3)))


def _with_abstention(n, rng, other_fraction=0.0, scale=4.0):
    """3 target clusters plus 2 other diagnoses (BKL, DF) that the features place between targets, and two abstention
    logits that know them (memory): an other diagnosis's abstention logit is high, a target's low."""
    n_other = int(n * other_fraction)
    logits, features, labels = _held_out(n - n_other, rng, scale)
    memory = np.c_[rng.normal(-2.0, 1.0, (n - n_other, 2))]
    if not n_other:
        return np.c_[logits, memory], features, labels
    index = rng.integers(0, 2, n_other)
    other_features = np.array([[2.0, 2.0, 0, 0], [0, 2.0, 2.0, 0]])[index] + rng.normal(0, 0.6, (n_other, 4))
    other_logits = np.c_[other_features[:, :3] * scale, rng.normal(2.0, 1.0, (n_other, 2)) + 6.0]
    return OtherDiagnoses(other_logits, other_features, np.array(["BKL", "DF"])[index])


def test_the_abstention_outputs_give_the_decision_its_memory():
    rng = np.random.default_rng(4)
    fit_logits, fit_features, fit_labels = _with_abstention(1000, rng)
    others = _with_abstention(400, rng, other_fraction=1.0)
    trust = fit_trust(fit_logits, fit_features, fit_labels, TrustConfig(), others=others, num_targets=3)
    novelty_only = fit_trust(fit_logits[:, :3], fit_features, fit_labels, TrustConfig())  # no abstention outputs
    assert trust.calibrated(fit_logits).shape == (1000, 3)
    np.testing.assert_allclose(trust.calibrated(fit_logits).sum(1), 1.0)
    assert trust.summary()["out_of_scope"]["signals"] == ["novelty", "memory"]
    assert novelty_only.summary()["out_of_scope"]["signals"] == ["novelty"]
    assert trust.fit["sizes"]["others"] == 400 and trust.fit["out_of_scope"]["others"] == 400

    fresh, fresh_others = _with_abstention(1000, rng), _with_abstention(400, rng, other_fraction=1.0)
    figures = evaluate_trust(trust, *fresh, others=fresh_others)["out_of_scope"]
    novelty_figures = evaluate_trust(novelty_only, fresh[0][:, :3], *fresh[1:], others=OtherDiagnoses(
        fresh_others.logits[:, :3], fresh_others.features, fresh_others.codes))["out_of_scope"]
    assert set(figures["per_class"]) == {"BKL", "DF"}
    assert figures["auroc"] > 0.95 and figures["auroc"] > novelty_figures["auroc"] + 0.1
    assert figures["other_flag_rate"] > novelty_figures["other_flag_rate"] + 0.4
    assert figures["other_flagged_by"]["memory"] > 0.8 and figures["auroc_memory"] > 0.95
    assert 0.93 <= 1 - figures["target_flag_rate"] <= 0.97  # the threshold still keeps 95% of the targets
    assert 0.0 <= figures["auroc_max_softmax"] <= 1.0


def test_each_flag_has_its_reason():
    rng = np.random.default_rng(5)
    trust = fit_trust(*_with_abstention(1000, rng), TrustConfig(), num_targets=3)
    others = _with_abstention(50, rng, other_fraction=1.0)
    photo = np.r_[np.zeros(3), -2.0, -2.0][None].repeat(5, 0), np.full((5, 4), 40.0) * [1, -1, 1, -1]
    reasons = trust.out_of_scope_reasons(others.logits, others.features)
    assert sum(reason is not None and "other_diagnosis" in reason.value for reason in reasons) >= 40
    assert all(reason in (OutOfScopeReason.NOVEL, OutOfScopeReason.OTHER_DIAGNOSIS_AND_NOVEL)
               for reason in trust.out_of_scope_reasons(*photo))
    in_scope = _with_abstention(200, rng)
    reasons = trust.out_of_scope_reasons(*in_scope[:2])
    flags = trust.out_of_scope(*in_scope[:2])
    assert [reason is not None for reason in reasons] == flags.tolist()
