"""benchmarks/abstention_benchmark.py on synthetic runs: settings from the overrides, paired intervals, novelty."""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
abstention_benchmark = importlib.import_module("abstention_benchmark")

TARGETS = np.eye(6)[:3] * 3.0
OTHERS = {"BKL": np.array([2.0, 2.0, 0, 0, 0, 0]), "DF": np.array([0, 0, 0, 3.0, 0, 0])}


def _split(rng, n_targets, n_others, memory_of, prefix):
    """Head outputs of one split: memory_of[code] is how high that code's abstention logits sit (targets: -2)."""
    labels = rng.integers(0, 3, n_targets)
    codes = np.array(list(OTHERS))[rng.integers(0, 2, n_others)]
    target_features = TARGETS[labels] + rng.normal(0, 1, (n_targets, 6))
    other_features = np.stack([OTHERS[c] for c in codes]) + rng.normal(0, 1, (n_others, 6))
    target_logits = np.c_[target_features[:, :3] * 3, rng.normal(-2, 1, (n_targets, 2))]
    other_logits = np.c_[other_features[:, :3] * 3, np.stack([rng.normal(memory_of[c], 1, 2) for c in codes])]
    arrays = {}
    for kind, logits, features, y, names, n in (("targets", target_logits, target_features, labels, labels.astype(str),
                                                 n_targets),
                                                ("others", other_logits, other_features, np.full(n_others, -1), codes,
                                                 n_others)):
        values = {"logits": logits, "features": features, "labels": y, "label_names": names,
                  "lesion_ids": np.array([f"{prefix}{kind}{i // 2}" for i in range(n)]),
                  "image_ids": np.array([f"{kind}{i}" for i in range(n)])}
        arrays.update({f"{{split}}/{kind}/{name}": value for name, value in values.items()})
    return arrays


def _write_run(folder: Path, name: str, overrides: list[str], memory_of: dict, seed: int) -> None:
    run = folder / name
    run.mkdir(parents=True)
    arrays = {"num_targets": np.array(3)}
    for split in ("eval", "test"):
        rng = np.random.default_rng({"eval": 100, "test": 200}[split])  # the same images in every run ...
        split_arrays = _split(rng, 300, 120, memory_of, split)
        noise = np.random.default_rng(seed)  # ... scored by models that differ a little
        for key, value in split_arrays.items():
            if key.endswith("/logits"):
                value = value + noise.normal(0, 0.1, value.shape)
            arrays[key.format(split=split)] = value
    np.savez(run / "head_outputs.npz", **arrays)
    (run / "run.json").write_text(json.dumps({"overrides": overrides}))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("abstention_runs")
    knows_both, knows_nothing = {"BKL": 4.0, "DF": 4.0}, {"BKL": -2.0, "DF": -2.0}
    for seed in (0, 1):
        _write_run(folder, f"none-{seed}", [f"train.seed={seed}", "trust.abstention=none"], knows_nothing, seed)
        _write_run(folder, f"hod-{seed}", [f"train.seed={seed}", "trust.abstention=hod"], knows_both, seed)
        _write_run(folder, f"hod-DF-{seed}", [f"train.seed={seed}", "trust.abstention=hod", "trust.abstention_exclude=[DF]"],
                   {"BKL": 4.0, "DF": -2.0}, seed)
    return folder


def test_the_setting_and_seed_come_from_the_overrides():
    assert abstention_benchmark.run_setting(["train.seed=2", "trust.abstention=none"]) == ("none", 2)
    assert abstention_benchmark.run_setting(["trust.abstention=hod", "trust.abstention_exclude=[SCC]"]) == ("hod-SCC", 0)
    assert abstention_benchmark.run_setting([]) == ("none", 0)  # the config's default


def test_figures_compare_abstention_with_none_paired_over_seeds(runs):
    from dermflow.config import TrustConfig

    loaded, target_groups, other_groups = abstention_benchmark.load_runs(runs, TrustConfig())
    assert sorted(run.setting for run in loaded) == ["hod", "hod", "hod-DF", "hod-DF", "none", "none"]
    figures = abstention_benchmark.abstention_figures(loaded, target_groups, other_groups, draws=40)
    assert figures["runs"] == {"hod": [0, 1], "hod-DF": [0, 1], "none": [0, 1]}
    hod, none = figures["hod"], figures["none"]
    assert hod["known_auroc"]["value"] > none["known_auroc"]["value"] + 0.05  # memory finds the known others
    assert hod["known_flagged"]["value"] > none["known_flagged"]["value"]
    assert hod["known_auroc"]["low"] <= hod["known_auroc"]["value"] <= hod["known_auroc"]["high"]
    assert len(hod["known_auroc"]["per_seed"]) == 2 and hod["known_auroc"]["seeds"] == 2
    difference = figures["hod_minus_none"]["balanced_accuracy"]
    assert abs(difference["value"]) < 0.05 and difference["low"] <= difference["value"] <= difference["high"]
    assert 0 < hod["ece_floor"]["low"] <= hod["ece_floor"]["value"] <= hod["ece_floor"]["high"]
    novelty = figures["novelty"]
    assert set(novelty) == {"DF", "mean"} and novelty["mean"]["codes"] == ["DF"]
    assert novelty["DF"]["decision"]["value"] == pytest.approx(novelty["mean"]["decision"]["value"])
    assert "difference" in novelty["mean"] and abs(novelty["DF"]["difference"]["value"]) < 0.1
    report = abstention_benchmark.format_report(figures)
    assert "known other diagnoses: AUROC" in report and "novelty" in report


def test_runs_on_different_test_images_are_refused(runs, tmp_path):
    import shutil

    from dermflow.config import TrustConfig

    shutil.copytree(runs / "hod-0", tmp_path / "a")
    data = dict(np.load(tmp_path / "a" / "head_outputs.npz"))
    data["test/targets/image_ids"] = data["test/targets/image_ids"][::-1]
    shutil.copytree(runs / "hod-1", tmp_path / "b")
    np.savez(tmp_path / "b" / "head_outputs.npz", **data)
    with pytest.raises(ValueError, match="not the same test images"):
        abstention_benchmark.load_runs(tmp_path, TrustConfig())
