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


def _clusters(rng, centres, n_per, spread=1.0):
    labels = np.repeat(np.arange(len(centres)), n_per)
    return centres[labels] + rng.normal(0, spread, (labels.size, centres.shape[1])), labels


def test_other_class_means_lift_the_auroc_of_known_other_diagnoses():
    """Targets and other diagnoses as nearby clusters (features ~ L2-normalised directions): the others' means
    make their images score clearly higher than fresh targets, where novelty alone barely separates them."""
    rng = np.random.default_rng(1)
    dim = 24
    targets = rng.normal(0, 1, (3, dim)) * 2.0 + 6.0
    others = targets[[0, 1]] + rng.normal(0, 1, (2, dim)) * 0.7  # each near a target: novelty sees little
    t_fit, t_labels = _clusters(rng, targets, 200)
    o_fit, o_index = _clusters(rng, others, 150)
    codes = np.array(["BKL", "AK"])[o_index]
    t_new, _ = _clusters(rng, targets, 100)
    o_new, _ = _clusters(rng, others, 100)
    truth = np.r_[np.zeros(len(t_new)), np.ones(len(o_new))]

    novelty = fit_feature_distance(t_fit, t_labels, 3)
    combined = fit_feature_distance(t_fit, t_labels, 3, o_fit, codes, other_weight=1.0)
    auroc_novelty = roc_auc_score(truth, np.r_[novelty.distance(t_new), novelty.distance(o_new)])
    auroc_combined = roc_auc_score(truth, np.r_[combined.distance(t_new), combined.distance(o_new)])
    print(f"AUROC novelty {auroc_novelty:.3f}, with other means {auroc_combined:.3f}")
    assert combined.other_codes == ("AK", "BKL") and combined.others.shape == (2, dim)
    assert auroc_combined > 0.93  # measured 0.958
    assert auroc_combined > auroc_novelty + 0.1  # novelty alone: 0.788


def test_the_score_is_d_in_plus_beta_times_d_in_minus_d_other():
    rng = np.random.default_rng(2)
    features, labels = _clusters(rng, rng.normal(0, 3, (3, 8)), 50)
    other, _ = _clusters(rng, rng.normal(0, 3, (2, 8)), 30)
    codes = np.array(["DF"] * 30 + ["VASC"] * 30)
    detector = fit_feature_distance(features, labels, 3, other, codes, other_weight=0.7)
    probe = rng.normal(0, 3, (20, 8))
    normalised = l2_normalize(probe)

    def brute(means):
        return np.array([[(x - m) @ detector.precision.astype(float) @ (x - m) for m in means.astype(float)]
                         for x in normalised]).min(axis=1)

    d_in, d_other = brute(detector.means), brute(detector.others)
    np.testing.assert_allclose(detector.target_distance(probe), d_in, rtol=1e-6)
    np.testing.assert_allclose(detector.other_distance(probe), d_other, rtol=1e-6)
    np.testing.assert_allclose(detector.distance(probe), d_in + 0.7 * (d_in - d_other), rtol=1e-6, atol=1e-6)
    assert detector.method != detector.without_others().method
    np.testing.assert_allclose(detector.without_others().distance(probe), d_in, rtol=1e-6)


def test_without_other_images_the_score_is_the_target_distance():
    rng = np.random.default_rng(3)
    features, labels = _clusters(rng, rng.normal(0, 3, (3, 8)), 40)
    plain = fit_feature_distance(features, labels, 3)
    empty = fit_feature_distance(features, labels, 3, np.zeros((0, 8)), np.array([], str), other_weight=2.0)
    single = fit_feature_distance(features, labels, 3, features[:1] + 5.0, np.array(["SCC"]), other_weight=2.0)
    probe = rng.normal(0, 3, (10, 8))
    for detector in (empty, single):  # one image of a code is no class mean
        assert detector.others.shape == (0, 8) and detector.other_weight == 0.0
        np.testing.assert_allclose(detector.distance(probe), plain.distance(probe))
    assert np.isinf(plain.other_distance(probe)).all()
