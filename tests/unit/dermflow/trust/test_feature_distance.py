import numpy as np
from sklearn.metrics import roc_auc_score

from dermflow.trust.feature_distance import fit_feature_distance, in_scope_pvalue, l2_normalize, max_softmax_score


def test_far_features_get_larger_distances_than_the_class_clusters():
    rng = np.random.default_rng(0)
    means = rng.normal(0, 3, (3, 16))
    labels = rng.integers(0, 3, 300)
    features = means[labels] + rng.normal(0, 1, (300, 16))
    detector = fit_feature_distance(features, labels, 3)
    inside = detector.distance(means[labels[:100]] + rng.normal(0, 1, (100, 16)))
    outside = detector.distance(rng.normal(0, 1, (100, 16)) + 8.0)
    assert roc_auc_score(np.r_[np.zeros(100), np.ones(100)], np.r_[inside, outside]) > 0.99


def test_pvalues_are_in_unit_range_and_fall_with_distance():
    reference = np.arange(1, 20, dtype=float)
    p = in_scope_pvalue(np.array([0.0, 10.0, 100.0]), reference)
    assert p[0] == 1.0 and 0 < p[2] < p[1] < p[0]
    assert p[2] == 1 / 20


def test_max_softmax_score_grows_with_uncertainty():
    assert max_softmax_score(np.array([[0.9, 0.1], [0.5, 0.5]])).tolist() == [0.09999999999999998, 0.5]


def test_the_score_is_the_squared_mahalanobis_distance_to_the_nearest_target_mean():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 50)
    features = rng.normal(0, 3, (3, 8))[labels] + rng.normal(0, 1, (150, 8))
    detector = fit_feature_distance(features, labels, 3)
    probe = l2_normalize(rng.normal(0, 3, (20, 8)))
    brute = np.array([[(x - m) @ detector.precision.astype(float) @ (x - m) for m in detector.means.astype(float)]
                      for x in probe]).min(axis=1)
    np.testing.assert_allclose(detector.distance(probe), brute, rtol=1e-6)
