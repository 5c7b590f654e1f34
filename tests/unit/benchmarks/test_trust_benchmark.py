"""benchmarks/trust_benchmark.py on synthetic head outputs: lesion folds, cross-fit, intervals."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dermflow.config import TrustConfig

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "trust_benchmark.py"
_spec = importlib.util.spec_from_file_location("trust_benchmark", SCRIPT)
trust_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trust_benchmark)


def _images(rng, n, centres, codes=None, scale=3.0, lesion_prefix="L"):
    """Three target logits from the features, then two abstention logits: high for the other diagnoses (memory)."""
    index = rng.integers(0, len(centres), n)
    features = centres[index] + rng.normal(0, 1.0, (n, centres.shape[1]))
    lesions = np.array([f"{lesion_prefix}{i // 2}" if i % 5 else "" for i in range(n)])  # pairs; some without id
    abstention = rng.normal(-1.0 if codes is None else 4.0, 1.5, (n, 2))
    return SimpleNamespace(
        logits=np.c_[features[:, :3] * scale, abstention], features=features,
        labels=index if codes is None else np.full(n, -1),
        label_names=np.array(["MEL", "NV", "BCC"])[index] if codes is None else np.array(codes)[index],
        lesion_ids=lesions, image_ids=np.array([f"{lesion_prefix}img{i}" for i in range(n)]))


@pytest.fixture(scope="module")
def outputs():
    rng = np.random.default_rng(0)
    targets = np.eye(6)[:3] * 3.0
    others = np.array([[2.0, 2.0, 0, 0, 0, 0], [0, 0, 0, 3.0, 0, 0], [0, 2.0, 2.0, 0, 0, 0]])
    codes = ["BKL", "DF", "SCC"]
    outputs = {split: (_images(rng, 600, targets, lesion_prefix=f"{split}T"),
                       _images(rng, 240, others, codes, lesion_prefix=f"{split}O"))
               for split in ("eval", "test")}
    return {**outputs, "num_targets": 3}


def test_lesion_folds_keep_lesions_together_and_halve_them():
    lesions = np.array(["a", "a", "b", "b", "c", "", ""])
    images = np.array(["1", "2", "3", "4", "5", "6", "7"])
    folds = trust_benchmark.lesion_folds(lesions, images, seed=0)
    assert folds[0] == folds[1] and folds[2] == folds[3]
    assert sorted(np.bincount(folds[[0, 2, 4, 5, 6]])) == [2, 3]  # 5 groups: the two empty ids are two lesions


def test_cross_fit_applies_each_fold_the_trust_of_the_other(outputs):
    targets, others = outputs["test"]
    folds_t = trust_benchmark.lesion_folds(targets.lesion_ids, targets.image_ids, 0)
    folds_o = trust_benchmark.lesion_folds(others.lesion_ids, others.image_ids, 0)
    pooled = trust_benchmark.cross_fit(targets, others, TrustConfig(), folds_t, folds_o, num_targets=3)
    first, second = pooled["folds"]
    assert first["fit_targets"] == second["applied_targets"] and second["fit_targets"] == first["applied_targets"]
    assert first["applied_targets"] + second["applied_targets"] == 600
    assert first["signals"] == ["novelty", "memory"] and first["flag"] == "retention"
    assert pooled["calibrated"].shape == (600, 3)
    np.testing.assert_allclose(pooled["calibrated"].sum(axis=1), 1.0)
    without = trust_benchmark.cross_fit(
        SimpleNamespace(**{**vars(targets), "logits": targets.logits[:, :3]}),
        SimpleNamespace(**{**vars(others), "logits": others.logits[:, :3]}), TrustConfig(), folds_t, folds_o)
    assert without["folds"][0]["signals"] == ["novelty"]


def test_figures_carry_intervals_and_counts(outputs):
    figures = trust_benchmark.trust_figures(outputs, TrustConfig(), positive_index=0, draws=60)
    test = figures["test_cross_fit"]
    for key in ("balanced_accuracy", "ece_after", "ood_auroc", "ood_auroc_novelty", "ood_auroc_memory",
                "other_flag_rate", "other_flagged_by_memory", "coverage", "mean_set_size"):
        cell = test[key]
        assert cell["low"] <= cell["value"] <= cell["high"] and cell["draws"] == 60, key
    assert test["ood_auroc"]["n_targets"] == 600 and test["ood_auroc"]["n_others"] == 240
    assert test["balanced_accuracy"]["n"] == 600
    assert test["ood_auroc"]["value"] > 0.9  # memory knows the others here
    assert test["ood_auroc"]["value"] > test["ood_auroc_novelty"]["value"]
    assert 0.85 <= test["coverage"]["value"] <= 0.95
    assert set(test["per_other_class"]) == {"BKL", "DF", "SCC"}
    assert figures["eval"]["signals"] == ["novelty", "memory"] and figures["num_outputs"] == 5
    table = trust_benchmark.format_table(figures)
    assert "out-of-scope AUROC, decision" in table and "flagged by memory" in table and "DF" in table
