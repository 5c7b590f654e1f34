import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dermflow.trust import auroc, out_of_scope_figures


def test_auroc_agrees_with_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    negative, positive = rng.integers(0, 5, 80).astype(float), rng.integers(1, 6, 40).astype(float)
    expected = roc_auc_score(np.r_[np.zeros(80), np.ones(40)], np.r_[negative, positive])
    assert auroc(negative, positive) == pytest.approx(expected)
    assert auroc([0, 1], [2, 3]) == 1.0 and auroc([1, 1], [1]) == 0.5
    assert np.isnan(auroc([], [1.0]))


def test_figures_per_other_code_and_flag_rates():
    figures = out_of_scope_figures(
        target_scores=[0.0, 1.0, 2.0, 3.0], other_scores=[4.0, 5.0, 0.5], other_codes=["BKL", "BKL", "DF"],
        target_flags=[False, False, False, True], other_flags=[True, True, False])
    assert figures["targets"] == 4 and figures["others"] == 3
    assert figures["per_class"]["BKL"] == {"count": 2, "auroc": 1.0, "flag_rate": 1.0}
    assert figures["per_class"]["DF"]["auroc"] == 0.25 and figures["per_class"]["DF"]["flag_rate"] == 0.0
    assert figures["target_flag_rate"] == 0.25 and figures["other_flag_rate"] == pytest.approx(2 / 3)
