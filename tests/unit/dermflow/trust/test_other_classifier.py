"""The logistic regression targets vs other diagnoses, and what fit_trust does without enough others."""
import numpy as np
import pytest

from dermflow.config import TrustConfig
from dermflow.trust import auroc, fit_trust
from dermflow.trust.feature_distance import l2_normalize
from dermflow.trust.other_classifier import MIN_OTHER_IMAGES, fit_other_classifier
from dermflow.trust.trust_fitter import OtherDiagnoses

DIM = 8


def _targets(rng, n):
    labels = rng.integers(0, 3, n)
    features = 4.0 + np.eye(DIM)[labels] * 3.0 + rng.normal(0, 0.5, (n, DIM))
    return features[:, :3] * 2.0, features, labels


def _other_cluster(rng, n):
    """Between the first two targets, shifted along a direction of its own: separable, but not far."""
    centre = 4.0 + np.r_[1.5, 1.5, 0.0, 2.0, np.zeros(DIM - 4)]
    features = centre + rng.normal(0, 0.5, (n, DIM))
    return OtherDiagnoses(features[:, :3] * 2.0, features, np.array(["BKL", "DF"])[rng.integers(0, 2, n)])


def test_a_separable_other_cluster_gets_higher_logits_than_fresh_targets():
    rng = np.random.default_rng(0)
    _, targets, _ = _targets(rng, 400)
    others = _other_cluster(rng, 60)
    classifier = fit_other_classifier(targets, others.features, regularisation=1.0)
    _, fresh_targets, _ = _targets(rng, 300)
    fresh_others = _other_cluster(rng, 100).features
    assert classifier.weights.shape == (DIM,) and classifier.regularisation == 1.0
    assert auroc(classifier.logit(fresh_targets), classifier.logit(fresh_others)) > 0.97
    # class-balanced: 60 others against 400 targets still put the boundary between them
    assert (classifier.logit(fresh_others) > 0).mean() > 0.9 and (classifier.logit(fresh_targets) < 0).mean() > 0.9


def test_the_logit_is_linear_in_the_l2_normalised_features():
    rng = np.random.default_rng(1)
    _, targets, _ = _targets(rng, 100)
    classifier = fit_other_classifier(targets, _other_cluster(rng, 30).features, regularisation=10.0)
    features = rng.normal(0, 1, (5, DIM))
    expected = l2_normalize(features) @ classifier.weights.astype(np.float64) + classifier.bias
    np.testing.assert_allclose(classifier.logit(features), expected)
    np.testing.assert_allclose(classifier.logit(features * 7.0), expected)  # scale-free, as the distance is


def test_too_few_other_images_fit_no_classifier():
    rng = np.random.default_rng(2)
    _, targets, _ = _targets(rng, 100)
    assert fit_other_classifier(targets, None, 1.0) is None
    assert fit_other_classifier(targets, _other_cluster(rng, MIN_OTHER_IMAGES - 1).features, 1.0) is None
    assert fit_other_classifier(targets, _other_cluster(rng, MIN_OTHER_IMAGES).features, 1.0) is not None


def _same(a, b, features):
    assert a.other_classifier is None and a.combination is None
    np.testing.assert_array_equal(a.reference_distances, b.reference_distances)
    assert a.distance_threshold == b.distance_threshold and a.temperature == b.temperature
    np.testing.assert_array_equal(a.out_of_scope_score(features), b.out_of_scope_score(features))
    np.testing.assert_array_equal(a.out_of_scope_score(features), a.distance.distance(features))
    assert a.summary() == b.summary()


@pytest.mark.parametrize("combination", ["either_pvalue", "weighted_sum"])
def test_without_enough_other_diagnoses_fit_trust_behaves_as_the_distance_alone(combination):
    rng = np.random.default_rng(3)
    held_out = _targets(rng, 400)
    features = _targets(rng, 50)[1]
    off = TrustConfig(other_classifier="off")
    on = TrustConfig(other_classifier=combination)
    _same(fit_trust(*held_out, on), fit_trust(*held_out, off), features)
    few = _other_cluster(rng, 2 * MIN_OTHER_IMAGES - 2)  # part A gets MIN_OTHER_IMAGES - 1
    with_few = fit_trust(*held_out, on, others=few)
    _same(with_few, fit_trust(*held_out, off, others=few), features)
    assert with_few.distance.other_codes  # their means still enter the distance, as before
    enough = fit_trust(*held_out, on, others=_other_cluster(rng, 2 * MIN_OTHER_IMAGES))
    assert enough.other_classifier is not None and enough.combination.method == combination
