"""Abstention outputs against none on the real sample, over seeds and left-out diagnoses: issue 30's goals.

    python benchmarks/abstention_benchmark.py RUNS_DIR [--draws 1000] [--out RUNS_DIR/abstention_figures.json]

``RUNS_DIR/<run>/`` holds what ``bench_accuracy_isic_dev.py --outputs-only`` writes (``head_outputs.npz``,
``run.json`` with the run's ``--set`` overrides). A run's setting comes from those overrides, and
from ``TrustConfig``'s default where they do not name it: ``trust.abstention=none`` -> ``none``;
``trust.abstention=hod`` -> ``hod``, or ``hod-<CODE>`` with ``trust.abstention_exclude=[CODE]``
(that diagnosis left out of training entirely); its seed is ``train.seed`` (default 0). Every run must score the same test images (``--examples-from`` one
ingest), so that differences are paired.

Each run's test split gets the Trainer's ``fit_trust`` by 2-fold cross-fit by lesion
(``trust_benchmark.cross_fit``: no image is scored by values fitted on it). Then, per figure, the
mean over seeds, and a 95% **lesion-cluster** bootstrap interval: each draw resamples the test
split's lesions (targets and other diagnoses together; an image without a lesion id is its own)
and recomputes every run's figure on the same draw, so an interval holds the test images' sampling
spread of the seed-mean, and a difference (``hod - none``) is paired image by image.

- **known other diagnoses** (``none``, ``hod``): AUROC of the decision (1 - ``in_scope_score``),
  other diagnoses vs targets; the share of them flagged at the 95% retention; per code.
- **novelty** (``hod-<CODE>`` against ``none``): AUROC of the left-out code's images vs the targets,
  by the decision of the model that never saw the code, against the feature distance alone (the
  ``none`` model's decision); per code and the mean over codes.
- **targets**: balanced accuracy (argmax of the renormalised target probabilities), MEL AUC, top-label
  ECE after temperature with the floor a perfectly calibrated model shows at that n and those
  confidences (labels drawn as Bernoulli(confidence), ``ECE_FLOOR_SIMULATIONS`` times), conformal coverage.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_accuracy_isic_dev import HEAD_OUTPUTS_FILE, RUN_FILE, load_head_outputs  # noqa: E402
from trust_benchmark import balanced_accuracy, cross_fit, lesion_folds, lesion_groups  # noqa: E402

from dermflow.config import TrustConfig  # noqa: E402
from dermflow.trust import auroc, expected_calibration_error  # noqa: E402

ECE_FLOOR_SIMULATIONS = 200
GOALS = {"known_auroc": 0.92, "known_flagged": 0.70, "novelty_gap": -0.03, "bma_point": -0.01, "bma_low": -0.03}


@dataclass(frozen=True)
class Run:
    name: str
    setting: str  # none, hod, hod-<CODE>
    seed: int
    pooled: dict  # cross_fit's per-image results on the test split
    labels: np.ndarray
    codes: np.ndarray  # the test split's other diagnoses


def run_setting(overrides: list[str]) -> tuple[str, int]:
    values = dict(item.split("=", 1) for item in overrides if "=" in item)
    seed = int(values.get("train.seed", 0))
    if values.get("trust.abstention", TrustConfig().abstention) == "none":
        return "none", seed
    excluded = values.get("trust.abstention_exclude", "[]").strip("[] ").replace(" ", "")
    return ("hod-" + excluded) if excluded else "hod", seed


def load_runs(folder: Path, cfg: TrustConfig) -> tuple[list[Run], np.ndarray, np.ndarray]:
    """Every run under ``folder`` (cross-fitted), and the test split's lesion groups of targets and others."""
    runs, reference = [], None
    for path in sorted(folder.glob(f"*/{HEAD_OUTPUTS_FILE}")):
        overrides = json.loads((path.parent / RUN_FILE).read_text()).get("overrides", [])
        setting, seed = run_setting(overrides)
        outputs = load_head_outputs(path)
        targets, others = outputs["test"]
        ids = (tuple(targets.image_ids), tuple(others.image_ids))
        if reference is None:
            reference = ids
            both = lesion_folds(np.r_[targets.lesion_ids, others.lesion_ids],
                                np.r_[targets.image_ids, others.image_ids], cfg.seed)
            folds = both[: len(targets.labels)], both[len(targets.labels):]
            groups = lesion_groups(np.r_[targets.lesion_ids, others.lesion_ids], np.r_[targets.image_ids, others.image_ids])
        elif ids != reference:
            raise ValueError(f"{path}: not the same test images as the first run (use --examples-from one ingest)")
        pooled = cross_fit(targets, others, cfg, *folds, outputs["num_targets"])
        runs.append(Run(path.parent.name, setting, seed, pooled, np.asarray(targets.labels),
                        np.asarray(others.label_names).astype(str)))
    if not runs:
        raise ValueError(f"no {HEAD_OUTPUTS_FILE} under {folder}")
    n = len(runs[0].labels)
    return runs, groups[:n], groups[n:]


def cluster_draws(target_groups: np.ndarray, other_groups: np.ndarray, draws: int, seed: int = 0):
    """(target index, other index) per draw: the test split's lesions resampled with replacement."""
    groups = np.r_[target_groups, other_groups]
    unique, inverse = np.unique(groups.astype(str), return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(unique.size)]
    n = len(target_groups)
    rng = np.random.default_rng(seed)
    for _ in range(draws):
        index = np.concatenate([members[g] for g in rng.integers(0, unique.size, unique.size)])
        yield index[index < n], index[index >= n] - n


def interval(statistic, runs: list[Run], target_groups, other_groups, draws: int) -> dict:
    """Mean over ``runs`` of ``statistic(run, target index, other index)``, with its lesion-cluster interval."""
    everything = (np.arange(len(target_groups)), np.arange(len(other_groups)))
    value = float(np.mean([statistic(run, *everything) for run in runs]))
    values = [np.mean([statistic(run, t, o) for run in runs]) for t, o in cluster_draws(target_groups, other_groups, draws)]
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    low, high = np.percentile(values, [2.5, 97.5]) if values.size else (np.nan, np.nan)
    return {"value": value, "low": float(low), "high": float(high), "seeds": len(runs),
            "per_seed": [float(statistic(run, *everything)) for run in runs]}


def paired(statistic, first: list[Run], second: list[Run], target_groups, other_groups, draws: int) -> dict:
    """Mean over seeds of statistic(first) - statistic(second), the same seeds paired, with its interval."""
    pairs = [(a, b) for a in first for b in second if a.seed == b.seed]
    if not pairs:
        return {}
    return interval(lambda pair, t, o: statistic(pair[0], t, o) - statistic(pair[1], t, o),
                    pairs, target_groups, other_groups, draws)


def known_auroc(run: Run, t, o) -> float:
    return auroc(1.0 - run.pooled["in_scope"][t], 1.0 - run.pooled["other_in_scope"][o])


def known_flagged(run: Run, t, o) -> float:
    return float(run.pooled["other_flag"][o].mean()) if len(o) else np.nan


def targets_flagged(run: Run, t, o) -> float:
    return float(run.pooled["flag"][t].mean())


def code_auroc(code: str):
    def statistic(run: Run, t, o) -> float:
        return auroc(1.0 - run.pooled["in_scope"][t], 1.0 - run.pooled["other_in_scope"][o][run.codes[o] == code])
    return statistic


def code_flagged(code: str):
    def statistic(run: Run, t, o) -> float:
        flags = run.pooled["other_flag"][o][run.codes[o] == code]
        return float(flags.mean()) if flags.size else np.nan
    return statistic


def target_bma(run: Run, t, o) -> float:
    return balanced_accuracy(run.labels[t], run.pooled["raw"][t].argmax(axis=1))


def positive_auc(run: Run, t, o, positive: int = 0) -> float:
    is_positive = run.labels[t] == positive
    scores = run.pooled["raw"][t][:, positive]
    return auroc(scores[~is_positive], scores[is_positive])


def ece_after(run: Run, t, o, bins: int = 15) -> float:
    return expected_calibration_error(run.pooled["calibrated"][t], run.labels[t], bins)


def coverage(run: Run, t, o) -> float:
    return float(run.pooled["covered"][t].mean())


def ece_floor(runs: list[Run], bins: int = 15, simulations: int = ECE_FLOOR_SIMULATIONS, seed: int = 0) -> dict:
    """The top-label ECE of a perfectly calibrated model with these runs' confidences (mean, 95% range over draws)."""
    rng = np.random.default_rng(seed)
    values = []
    for run in runs:
        confidence = run.pooled["calibrated"].max(axis=1)
        for _ in range(simulations):
            correct = rng.random(confidence.size) < confidence
            probabilities = np.c_[confidence, 1.0 - confidence]  # top label first: its "label" is 0 when correct
            values.append(expected_calibration_error(probabilities, np.where(correct, 0, 1), bins))
    values = np.asarray(values)
    return {"value": float(values.mean()), "low": float(np.percentile(values, 2.5)),
            "high": float(np.percentile(values, 97.5)), "n": int(runs[0].labels.size), "simulations": simulations}


def abstention_figures(runs: list[Run], target_groups, other_groups, draws: int) -> dict:
    by = {}
    for run in sorted(runs, key=lambda r: r.seed):
        by.setdefault(run.setting, []).append(run)
    none, hod = by.get("none", []), by.get("hod", [])
    figures = {"runs": {setting: sorted(r.seed for r in group) for setting, group in by.items()}, "draws": draws,
               "n_targets": int(len(target_groups)), "n_others": int(len(other_groups))}
    codes = sorted(set(runs[0].codes.tolist()))
    for name, group in (("none", none), ("hod", hod)):
        if not group:
            continue
        figures[name] = {key: interval(statistic, group, target_groups, other_groups, draws) for key, statistic in (
            ("known_auroc", known_auroc), ("known_flagged", known_flagged), ("targets_flagged", targets_flagged),
            ("balanced_accuracy", target_bma), ("mel_auc", positive_auc), ("ece_after", ece_after),
            ("coverage", coverage))}
        figures[name]["ece_floor"] = ece_floor(group)
        figures[name]["per_code"] = {code: {"auroc": interval(code_auroc(code), group, target_groups, other_groups, draws),
                                            "flagged": interval(code_flagged(code), group, target_groups, other_groups,
                                                                draws)} for code in codes}
    if none and hod:
        figures["hod_minus_none"] = {key: paired(statistic, hod, none, target_groups, other_groups, draws)
                                     for key, statistic in (("balanced_accuracy", target_bma), ("mel_auc", positive_auc),
                                                            ("ece_after", ece_after), ("known_auroc", known_auroc),
                                                            ("known_flagged", known_flagged))}
    figures["novelty"] = novelty_figures(by, codes, target_groups, other_groups, draws)
    return figures


def novelty_figures(by: dict, codes: list[str], target_groups, other_groups, draws: int) -> dict:
    """Per left-out code: the decision of the model that never saw it vs the feature distance alone (the none model)."""
    none = {run.seed: run for run in by.get("none", [])}
    rows, left_out = {}, {}
    for code in codes:
        group = by.get(f"hod-{code}", [])
        if not group:
            continue
        left_out[code] = {run.seed: run for run in group}
        base = [none[run.seed] for run in group if run.seed in none]
        rows[code] = {"decision": interval(code_auroc(code), group, target_groups, other_groups, draws),
                      "feature_distance_alone": interval(code_auroc(code), base, target_groups, other_groups, draws)
                      if base else {},
                      "difference": paired(code_auroc(code), group, base, target_groups, other_groups, draws)}
    if not left_out:
        return rows
    seeds = sorted(set.intersection(*(set(runs) for runs in left_out.values())))

    def decision(seed, t, o):
        return np.mean([code_auroc(code)(runs[seed], t, o) for code, runs in left_out.items()])

    def distance_alone(seed, t, o):
        return np.mean([code_auroc(code)(none[seed], t, o) for code in left_out])

    rows["mean"] = {"codes": sorted(left_out), "decision": interval(decision, seeds, target_groups, other_groups, draws)}
    paired_seeds = [seed for seed in seeds if seed in none]
    if paired_seeds:
        rows["mean"]["feature_distance_alone"] = interval(distance_alone, paired_seeds, target_groups, other_groups, draws)
        rows["mean"]["difference"] = interval(lambda seed, t, o: decision(seed, t, o) - distance_alone(seed, t, o),
                                              paired_seeds, target_groups, other_groups, draws)
    return rows


def _fmt(cell: dict, digits: int = 3) -> str:
    if not cell:
        return "-"
    return f"{cell['value']:.{digits}f} [{cell['low']:.{digits}f}, {cell['high']:.{digits}f}]"


def format_report(figures: dict) -> str:
    lines = [f"runs {figures['runs']}; test split {figures['n_targets']} targets + {figures['n_others']} others; "
             f"lesion-cluster bootstrap, {figures['draws']} draws; value = mean over seeds"]
    rows = (("known other diagnoses: AUROC", "known_auroc"), ("known other diagnoses flagged", "known_flagged"),
            ("targets flagged", "targets_flagged"), ("target balanced accuracy", "balanced_accuracy"),
            ("MEL AUC", "mel_auc"), ("ECE after temperature", "ece_after"), ("conformal coverage", "coverage"))
    lines.append(f"{'figure':38s} {'none':>24s} {'hod':>24s} {'hod - none (paired)':>26s}")
    for title, key in rows:
        cells = [_fmt(figures.get(name, {}).get(key, {})) for name in ("none", "hod")]
        lines.append(f"{title:38s} {cells[0]:>24s} {cells[1]:>24s} "
                     f"{_fmt(figures.get('hod_minus_none', {}).get(key, {})):>26s}")
    for name in ("none", "hod"):
        if name in figures:
            floor = figures[name]["ece_floor"]
            lines.append(f"ECE floor of a calibrated model ({name}, n {floor['n']}): {_fmt(floor)}")
            for code, cell in figures[name]["per_code"].items():
                lines.append(f"  {name} {code}: AUROC {_fmt(cell['auroc'], 2)}, flagged {_fmt(cell['flagged'], 2)}")
    lines.append("novelty (code left out of training): decision of that model / feature distance alone (none) / difference")
    for code, row in figures["novelty"].items():
        if code == "mean":
            lines.append(f"  mean over {row['codes']}:")
        lines.append(f"  {code:6s} {_fmt(row['decision'])} / {_fmt(row.get('feature_distance_alone', {}))} / "
                     f"{_fmt(row.get('difference', {}))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    cfg = TrustConfig()
    runs, target_groups, other_groups = load_runs(args.runs, cfg)
    figures = abstention_figures(runs, target_groups, other_groups, args.draws)
    out = args.out or args.runs / "abstention_figures.json"
    out.write_text(json.dumps(figures, indent=2, default=float) + "\n")
    print(format_report(figures))
    print(f"figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
