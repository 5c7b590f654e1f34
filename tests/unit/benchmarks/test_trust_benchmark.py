"""benchmarks/trust_benchmark.py on synthetic head outputs: lesion folds, cross-fit, intervals, leave one class out."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dermflow.config import TrustConfig

WITH_CLASSIFIER = TrustConfig(other_classifier="either_pvalue")

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "trust_benchmark.py"
_spec = importlib.util.spec_from_file_location("trust_benchmark", SCRIPT)
trust_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trust_benchmark)


def _images(rng, n, centres, codes=None, scale=3.0, lesion_prefix="L"):
    index = rng.integers(0, len(centres), n)
    features = centres[index] + rng.normal(0, 1.0, (n, centres.shape[1]))
    lesions = np.array([f"{lesion_prefix}{i // 2}" if i % 5 else "" for i in range(n)])  # pairs; some without id
    return SimpleNamespace(
        logits=features[:, :3] * scale, features=features,
        labels=index if codes is None else np.full(n, -1),
        label_names=np.array(["MEL", "NV", "BCC"])[index] if codes is None else np.array(codes)[index],
        lesion_ids=lesions, image_ids=np.array([f"{lesion_prefix}img{i}" for i in range(n)]))


@pytest.fixture(scope="module")
def outputs():
    rng = np.random.default_rng(0)
    targets = np.eye(6)[:3] * 3.0
    others = np.array([[2.0, 2.0, 0, 0, 0, 0], [0, 0, 0, 3.0, 0, 0], [0, 2.0, 2.0, 0, 0, 0]])
    codes = ["BKL", "DF", "SCC"]
    return {split: (_images(rng, 600, targets, lesion_prefix=f"{split}T"),
                    _images(rng, 240, others, codes, lesion_prefix=f"{split}O"))
            for split in ("eval", "test")}


def test_lesion_folds_keep_lesions_together_and_halve_them():
    lesions = np.array(["a", "a", "b", "b", "c", "", ""])
    images = np.array(["1", "2", "3", "4", "5", "6", "7"])
    folds = trust_benchmark.lesion_folds(lesions, images, seed=0)
    assert folds[0] == folds[1] and folds[2] == folds[3]
    assert sorted(np.bincount(folds[[0, 2, 4, 5, 6]])) == [2, 3]  # 5 groups: the two empty ids are two lesions


def test_cross_fit_applies_each_fold_the_detector_of_the_other(outputs):
    targets, others = outputs["test"]
    folds_t = trust_benchmark.lesion_folds(targets.lesion_ids, targets.image_ids, 0)
    folds_o = trust_benchmark.lesion_folds(others.lesion_ids, others.image_ids, 0)
    pooled = trust_benchmark.cross_fit(targets, others, TrustConfig(), folds_t, folds_o)
    first, second = pooled["folds"]
    assert first["fit_targets"] == second["applied_targets"] and second["fit_targets"] == first["applied_targets"]
    assert first["applied_targets"] + second["applied_targets"] == 600
    assert first["other_classes"] == ["BKL", "DF", "SCC"]
    left = trust_benchmark.cross_fit(targets, others, TrustConfig(), folds_t, folds_o, leave_out="DF")
    assert left["folds"][0]["other_classes"] == ["BKL", "SCC"]
    # with the other-diagnosis classifier, the left-out code trains no classifier either
    first = trust_benchmark.cross_fit(targets, others, WITH_CLASSIFIER, folds_t, folds_o)["folds"][0]
    left = trust_benchmark.cross_fit(targets, others, WITH_CLASSIFIER, folds_t, folds_o, leave_out="DF")
    assert first["other_classifier"] and "DF" in first["classifier_codes"]
    assert left["folds"][0]["other_classifier"] and left["folds"][0]["classifier_codes"] == ["BKL", "SCC"]


def test_figures_carry_intervals_and_counts(outputs):
    figures = trust_benchmark.trust_figures(outputs, WITH_CLASSIFIER, positive_index=0, draws=60)
    test = figures["test_cross_fit"]
    for key in ("balanced_accuracy", "ece_after", "ood_auroc", "other_flag_rate", "coverage", "mean_set_size"):
        cell = test[key]
        assert cell["low"] <= cell["value"] <= cell["high"] and cell["draws"] == 60, key
    assert test["ood_auroc"]["n_targets"] == 600 and test["ood_auroc"]["n_others"] == 240
    assert test["balanced_accuracy"]["n"] == 600
    assert test["ood_auroc"]["value"] > 0.8  # measured 0.85: the others sit between target clusters or far away
    assert 0.85 <= test["coverage"]["value"] <= 0.95
    assert set(test["leave_one_class_out"]) == {"BKL", "DF", "SCC"}
    # DF (far from every target) is novel: found without its own mean too.
    assert test["leave_one_class_out"]["DF"]["value"] > 0.8  # measured 0.88
    assert [row["beta"] for row in figures["beta_sweep_on_eval"]] == list(trust_benchmark.BETA_CANDIDATES)
    assert figures["eval"]["other_classes"] == ["BKL", "DF", "SCC"]
    sweep = figures["combination_sweep_on_eval"]
    assert sweep[0]["setting"] == "max softmax"
    settings = [row for row in sweep if "setting" not in row]
    assert len(settings) == len(trust_benchmark.COMBINATION_CANDIDATES)
    assert all(row["fitted_classifier"] == (row["other_classifier"] != "off") for row in settings)
    assert {row["setting"] for row in sweep if "classifier alone" in row.get("setting", "")} == {
        "classifier alone, C 0.1", "classifier alone, C 1", "classifier alone, C 10"}
    assert figures["eval"]["other_classifier"] and "ood_auroc_other_classifier" in figures["eval"]
    table = trust_benchmark.format_table(figures)
    assert "out-of-scope AUROC, detector" in table and "DF" in table
