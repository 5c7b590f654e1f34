"""Feature distance + other-diagnosis classifier: the two combinations, and what they flag."""
import numpy as np
import pytest

from dermflow.config import TrustConfig
from dermflow.trust import auroc, fit_trust
from dermflow.trust.feature_distance import in_scope_pvalue
from dermflow.trust.score_combination import fit_score_combination
from dermflow.trust.trust_fitter import OtherDiagnoses, evaluate_trust

DIM = 8


def test_either_pvalue_is_n_plus_one_times_one_minus_the_smaller_pvalue():
    rng = np.random.default_rng(0)
    distance_b, logit_b = rng.normal(0, 1, 40), rng.normal(0, 1, 40)
    combination = fit_score_combination("either_pvalue", distance_b, logit_b)
    distance, logit = rng.normal(0, 1.5, 200), rng.normal(0, 1.5, 200)
    smaller = np.minimum(in_scope_pvalue(distance, combination.distance_reference),
                         in_scope_pvalue(logit, combination.logit_reference))
    np.testing.assert_allclose(combination.combine(distance, logit), 41 * (1 - smaller), atol=1e-9)
    scores = combination.combine(np.array([100.0, -100.0, -100.0]), np.array([-100.0, 100.0, -100.0]))
    assert scores.tolist() == [40.0, 40.0, 0.0]  # either score unusual -> most unusual


def test_weighted_sum_standardises_each_score_on_part_b():
    rng = np.random.default_rng(1)
    distance_b, logit_b = rng.normal(5, 2, 500), rng.normal(-1, 0.5, 500)
    combination = fit_score_combination("weighted_sum", distance_b, logit_b, logit_weight=2.0)
    combined_b = combination.combine(distance_b, logit_b)
    expected = (distance_b - distance_b.mean()) / distance_b.std() + 2.0 * (logit_b - logit_b.mean()) / logit_b.std()
    np.testing.assert_allclose(combined_b, expected)
    assert combination.combine(np.array([5.0]), np.array([0.0]))[0] > combination.combine(np.array([5.0]),
                                                                                          np.array([-1.0]))[0]


def test_an_unknown_combination_is_refused():
    with pytest.raises(ValueError, match="unknown score combination"):
        fit_score_combination("product", np.ones(3), np.ones(3))


def _targets(rng, n):
    labels = rng.integers(0, 3, n)
    features = 4.0 + np.eye(DIM)[labels] * 3.0 + rng.normal(0, 0.5, (n, DIM))
    return features[:, :3] * 2.0, features, labels


def _others(rng, n):
    """Tight beside one target (the distance calls them typical), shifted along a direction of their own
    (a classifier sees it)."""
    centre = 4.0 + np.r_[3.0, 0.0, 0.0, 1.0, np.zeros(DIM - 4)]
    features = centre + rng.normal(0, 0.3, (n, DIM))
    return OtherDiagnoses(features[:, :3] * 2.0, features, np.array(["BKL", "DF"])[rng.integers(0, 2, n)])


def _photo(n):
    """Unlike every target, and on the classifier's 'target' side: the other cluster's direction reversed."""
    return np.tile(4.0 + np.r_[1.0, 1.0, 1.0, -4.0, np.zeros(DIM - 4)], (n, 1))


@pytest.mark.parametrize("combination", ["either_pvalue", "weighted_sum"])
def test_the_combination_finds_known_others_and_still_flags_a_photo_the_classifier_calls_a_target(combination):
    rng = np.random.default_rng(4)
    cfg = TrustConfig(other_classifier=combination, other_class_weight=0.0)
    trust = fit_trust(*_targets(rng, 800), cfg, others=_others(rng, 200))
    distance_only = fit_trust(*_targets(np.random.default_rng(4), 800), cfg.model_copy(update={"other_classifier": "off"}),
                              others=_others(np.random.default_rng(4), 200))
    assert trust.other_classifier is not None and trust.combination.method == combination
    fresh, fresh_others = _targets(rng, 600), _others(rng, 200)

    figures = evaluate_trust(trust, *fresh, others=fresh_others)["out_of_scope"]
    figures_distance = evaluate_trust(distance_only, *fresh, others=fresh_others)["out_of_scope"]
    print(f"{combination}: AUROC {figures['auroc']:.3f} (distance alone {figures_distance['auroc']:.3f}), "
          f"flagged {figures['other_flag_rate']:.2f} (distance alone {figures_distance['other_flag_rate']:.2f})")
    assert figures_distance["auroc"] < 0.6  # the distance alone barely sees them
    assert figures["auroc"] > figures_distance["auroc"] + 0.3
    assert figures["other_flag_rate"] > figures_distance["other_flag_rate"] + 0.2
    # the threshold still keeps 95% of in-scope images, within 3 sd of a 400-image quantile and 600 fresh images
    assert 0.91 <= 1 - figures["target_flag_rate"] <= 0.99
    assert figures["auroc_other_classifier"] > 0.95 and "auroc_feature_distance" in figures

    photo = _photo(3)
    photo_logit = trust.other_classifier.logit(photo)
    assert (photo_logit < np.median(trust.other_classifier.logit(fresh[1]))).all()  # the classifier says "target"
    assert trust.out_of_scope(photo).all()
    assert (trust.in_scope_score(photo) < 0.01).all()
