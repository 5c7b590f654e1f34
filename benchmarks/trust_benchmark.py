"""Trust figures of the real-sample benchmark, with bootstrap 95% intervals (numpy; no TensorFlow here).

    outputs = {"test": (targets, others), "eval": (targets, others), "num_targets": 3}
    figures = trust_figures(outputs, cfg.trust, positive_index=0, draws=1000)
    print(format_table(figures))

``targets`` / ``others`` are anything with ``logits`` [N, C + K] (the C targets' logits, then the
abstention outputs' of a model trained with ``trust.abstention: hod``), ``features`` [N, D],
``labels`` [N] (-1 for others), ``label_names`` [N] (an other's ISIC code), ``lesion_ids`` [N] and
``image_ids`` [N] (pipelines.training.trainer_calibration.HeadOutputs).

Honest data use (docs/trust.md):

- **test split, 2-fold cross-fit by lesion.** The test split's lesions (an image without a lesion id
  is its own lesion) are split at random into two folds, targets and other diagnoses alike. Trust is
  fitted with :func:`dermflow.trust.fit_trust` (the Trainer's own fitting function, the Trainer's
  ``trust`` settings) on one fold's targets and applied to the other fold, then the other way round;
  the per-image results of the two evaluated folds are pooled. No figure comes from an image its
  detector, temperature, threshold or conformal quantile saw (the other diagnoses fit nothing). The
  model never saw the test split.
- **eval split**: trust fitted on the whole test split (as the Trainer does), applied to eval. The
  eval split chose the epoch, so its accuracy is slightly optimistic; none of the trust values.

The other diagnoses scored here are *known* to a model with abstention outputs (it trained on the
same codes' train-split images): memory. Novelty (a diagnosis left out of training) is measured
across runs by ``abstention_benchmark.py``. Every figure: value, bootstrap 95% percentile interval
(images resampled, fixed seed; targets and other diagnoses resampled separately for the
out-of-scope figures), and n.
"""
from __future__ import annotations

import math

import numpy as np

from dermflow.config import TrustConfig
from dermflow.trust import (
    OtherDiagnoses, auroc, bootstrap_interval, expected_calibration_error, fit_temperature, fit_trust,
    prediction_sets, softmax, target_probabilities)
from dermflow.trust.bootstrap import DEFAULT_DRAWS
from dermflow.trust.calibration_metrics import classwise_ece
from dermflow.trust.vector_scaling import apply_vector_scaling, fit_vector_scaling


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    from dermflow.pipelines.training.trainer_callbacks import isic_balanced_accuracy

    return isic_balanced_accuracy(labels, predicted)


def lesion_folds(lesion_ids: np.ndarray, image_ids: np.ndarray, seed: int) -> np.ndarray:
    """0/1 per image; all images of one lesion share a fold (no lesion id: the image is its own lesion)."""
    groups = lesion_groups(lesion_ids, image_ids)
    unique = np.array(sorted(set(groups.tolist())), dtype=object)
    order = np.random.default_rng(seed).permutation(unique.size)
    second = set(unique[order[unique.size // 2:]].tolist())
    return np.array([g in second for g in groups], dtype=np.int64)


def lesion_groups(lesion_ids: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """The lesion of each image (an image without a lesion id is its own)."""
    return np.array([lesion or f"image:{image}" for lesion, image in zip(lesion_ids, image_ids)], dtype=object)


def _others(images, index) -> OtherDiagnoses:
    return OtherDiagnoses(images.logits[index], images.features[index], np.asarray(images.label_names)[index])


def cross_fit(targets, others, cfg: TrustConfig, folds_t: np.ndarray, folds_o: np.ndarray,
              num_targets: int | None = None) -> dict:
    """Fit on one fold's targets, apply to the other fold, both ways; per-image results pooled (in the input order)."""
    n, m = len(targets.labels), len(others.labels)
    c = targets.logits.shape[1] if num_targets is None else num_targets
    pooled = {
        "raw": np.zeros((n, c)), "calibrated": np.zeros((n, c)), "in_scope": np.zeros(n), "flag": np.zeros(n, bool),
        "covered": np.zeros(n, bool), "set_size": np.zeros(n), "novelty": np.zeros(n), "memory": np.zeros(n),
        "other_in_scope": np.zeros(m), "other_flag": np.zeros(m, bool), "other_max_probability": np.zeros(m),
        "other_novelty": np.zeros(m), "other_memory": np.zeros(m), "other_by_memory": np.zeros(m, bool),
        "other_by_novelty": np.zeros(m, bool), "folds": [],
    }
    for fold in (0, 1):
        fit_t, apply_t, apply_o = folds_t != fold, folds_t == fold, folds_o == fold
        trust = fit_trust(targets.logits[fit_t], targets.features[fit_t], targets.labels[fit_t], cfg,
                          split="test (cross-fit)", num_targets=c)
        logits, features, labels = targets.logits[apply_t], targets.features[apply_t], targets.labels[apply_t]
        calibrated = trust.calibrated(logits)
        sets = prediction_sets(calibrated, trust.conformal_quantile)
        pooled["raw"][apply_t] = target_probabilities(logits, c)
        pooled["calibrated"][apply_t] = calibrated
        pooled["in_scope"][apply_t] = trust.in_scope_score(logits, features)
        pooled["flag"][apply_t] = trust.out_of_scope(logits, features)
        pooled["covered"][apply_t] = sets[np.arange(labels.size), labels]
        pooled["set_size"][apply_t] = sets.sum(axis=1)
        pooled["novelty"][apply_t], pooled["memory"][apply_t] = trust.signals(logits, features)
        if apply_o.any():
            o_logits, o_features = others.logits[apply_o], others.features[apply_o]
            pooled["other_in_scope"][apply_o] = trust.in_scope_score(o_logits, o_features)
            pooled["other_flag"][apply_o] = trust.out_of_scope(o_logits, o_features)
            pooled["other_max_probability"][apply_o] = trust.calibrated(o_logits).max(axis=1)
            novelty, memory = trust.signals(o_logits, o_features)
            pooled["other_novelty"][apply_o], pooled["other_memory"][apply_o] = novelty, memory
            pooled["other_by_memory"][apply_o], pooled["other_by_novelty"][apply_o] = trust.decision.fired(novelty, memory)
        pooled["folds"].append({
            "fit_targets": int(fit_t.sum()), "applied_targets": int(apply_t.sum()), "applied_others": int(apply_o.sum()),
            "temperature": trust.temperature, "conformal_quantile": trust.conformal_quantile,
            "signals": trust.decision.summary()["signals"], "flag": trust.decision.flag["status"],
        })
    return pooled


def _ood(target_scores, other_scores, draws, seed) -> dict:
    """AUROC (other > target) with an interval stratified by target/other."""
    scores = np.r_[target_scores, other_scores]
    is_other = np.r_[np.zeros(len(target_scores), bool), np.ones(len(other_scores), bool)]
    interval = bootstrap_interval(lambda s, o: auroc(s[~o], s[o]), scores, is_other, draws=draws, seed=seed,
                                  strata=is_other).as_dict()
    return {**interval, "n_targets": int(len(target_scores)), "n_others": int(len(other_scores))}


def _mean(values, draws, seed) -> dict:
    return bootstrap_interval(np.mean, np.asarray(values, np.float64), draws=draws, seed=seed).as_dict()


def headline_figures(labels, pooled: dict, other_codes, positive_index: int, bins: int, draws: int, seed: int) -> dict:
    """The issue's figures on one set of evaluated images (each with its interval and n)."""
    raw, calibrated = pooled["raw"], pooled["calibrated"]
    predicted = raw.argmax(axis=1)
    positive = labels == positive_index
    other_codes = np.asarray(other_codes).astype(str)
    in_scope, other_in_scope = pooled["in_scope"], pooled["other_in_scope"]
    figures = {
        "balanced_accuracy": bootstrap_interval(balanced_accuracy, labels, predicted, draws=draws, seed=seed).as_dict(),
        "positive_auc": bootstrap_interval(lambda p, y: auroc(p[~y], p[y]), raw[:, positive_index], positive,
                                           draws=draws, seed=seed, strata=positive).as_dict(),
        "ece_before": bootstrap_interval(lambda p, y: expected_calibration_error(p, y, bins), raw, labels,
                                         draws=draws, seed=seed).as_dict(),
        "ece_after": bootstrap_interval(lambda p, y: expected_calibration_error(p, y, bins), calibrated, labels,
                                        draws=draws, seed=seed).as_dict(),
        "classwise_ece_before": classwise_ece(raw, labels, bins),
        "classwise_ece_after": classwise_ece(calibrated, labels, bins),
        "ood_auroc": _ood(1.0 - in_scope, 1.0 - other_in_scope, draws, seed),
        "ood_auroc_novelty": _ood(pooled["novelty"], pooled["other_novelty"], draws, seed),
        "ood_auroc_max_softmax": _ood(1.0 - calibrated.max(axis=1), 1.0 - pooled["other_max_probability"], draws, seed),
        "other_flag_rate": _mean(pooled["other_flag"], draws, seed),
        "other_flagged_by_memory": _mean(pooled["other_by_memory"], draws, seed),
        "other_flagged_by_novelty": _mean(pooled["other_by_novelty"], draws, seed),
        "target_flag_rate": _mean(pooled["flag"], draws, seed),
        "coverage": _mean(pooled["covered"], draws, seed),
        "mean_set_size": _mean(pooled["set_size"], draws, seed),
        "per_other_class": {},
    }
    if np.isfinite(pooled["memory"]).all():
        figures["ood_auroc_memory"] = _ood(pooled["memory"], pooled["other_memory"], draws, seed)
    for code in sorted(set(other_codes.tolist())):
        mask = other_codes == code
        figures["per_other_class"][code] = {
            "ood_auroc": _ood(1.0 - in_scope, 1.0 - other_in_scope[mask], draws, seed),
            "flag_rate": _mean(pooled["other_flag"][mask], draws, seed),
        }
    return figures


def cross_fit_figures(targets, others, cfg: TrustConfig, positive_index: int, draws: int, seed: int,
                      num_targets: int | None = None) -> dict:
    """The test split's figures: 2-fold cross-fit by lesion, and temperature vs vector scaling."""
    # One fold assignment for targets and others: a lesion id seen among both gets one fold.
    both = lesion_folds(np.r_[targets.lesion_ids, others.lesion_ids], np.r_[targets.image_ids, others.image_ids],
                        cfg.seed)
    folds_t, folds_o = both[: len(targets.labels)], both[len(targets.labels):]
    pooled = cross_fit(targets, others, cfg, folds_t, folds_o, num_targets)
    figures = headline_figures(targets.labels, pooled, others.label_names, positive_index, cfg.ece_bins, draws, seed)
    figures["folds"] = pooled["folds"]
    figures["conformal_nominal"] = cfg.conformal_coverage
    figures["coverage_binomial_interval"] = _binomial_interval(len(targets.labels), cfg.conformal_coverage)
    figures["calibration_methods"] = calibration_comparison(targets, folds_t, cfg.ece_bins, draws, seed,
                                                            pooled["raw"].shape[1])
    return figures


def _binomial_interval(n: int, level: float) -> list[float]:
    from scipy.stats import binom

    low, high = binom.interval(0.95, n, level)
    return [float(low / n), float(high / n)] if n else [math.nan, math.nan]


def calibration_comparison(targets, folds: np.ndarray, bins: int, draws: int, seed: int, num_targets: int) -> dict:
    """Temperature vs vector scaling, each fitted on one whole fold and applied to the other (cross-fit)."""
    logits = np.asarray(targets.logits, np.float64)[:, :num_targets]
    temperature_p = np.zeros_like(logits)
    vector_p = np.zeros_like(logits)
    fitted = []
    for fold in (0, 1):
        fit, apply = folds != fold, folds == fold
        t = fit_temperature(logits[fit], targets.labels[fit])
        scale, bias = fit_vector_scaling(logits[fit], targets.labels[fit])
        temperature_p[apply] = softmax(logits[apply] / t)
        vector_p[apply] = apply_vector_scaling(logits[apply], scale, bias)
        fitted.append({"temperature": t, "vector_scale": scale.tolist(), "vector_bias": bias.tolist()})
    labels = targets.labels

    def nll(p, y):
        return float(-np.mean(np.log(np.maximum(p[np.arange(y.size), y], 1e-12))))

    out = {"fitted": fitted}
    for name, p in (("temperature", temperature_p), ("vector", vector_p)):
        out[name] = {
            "ece": bootstrap_interval(lambda q, y: expected_calibration_error(q, y, bins), p, labels, draws=draws,
                                      seed=seed).as_dict(),
            "nll": bootstrap_interval(nll, p, labels, draws=draws, seed=seed).as_dict(),
            "max_classwise_ece": float(max(classwise_ece(p, labels, bins))),
            "balanced_accuracy": balanced_accuracy(labels, p.argmax(axis=1)),
        }
    difference = bootstrap_interval(
        lambda a, b, y: expected_calibration_error(b, y, bins) - expected_calibration_error(a, y, bins),
        temperature_p, vector_p, labels, draws=draws, seed=seed)
    out["ece_vector_minus_temperature"] = difference.as_dict()
    return out


def eval_split_figures(fit_targets, targets, others, cfg: TrustConfig, positive_index: int, draws: int,
                       seed: int, num_targets: int | None = None) -> dict:
    """Trust fitted on the whole test split's targets (as the Trainer does), figures on the eval split."""
    trust = fit_trust(fit_targets.logits, fit_targets.features, fit_targets.labels, cfg, split="test",
                      num_targets=num_targets)
    pooled = _apply(trust, targets, others)
    figures = headline_figures(targets.labels, pooled, others.label_names, positive_index, cfg.ece_bins, draws, seed)
    figures["temperature"] = trust.temperature
    figures["signals"] = trust.decision.summary()["signals"]
    figures["flag"] = trust.decision.flag
    figures["coverage_binomial_interval"] = _binomial_interval(len(targets.labels), cfg.conformal_coverage)
    return figures


def _apply(trust, targets, others) -> dict:
    """cross_fit's per-image results of one fitted trust on every image given."""
    logits, features, labels = targets.logits, targets.features, targets.labels
    calibrated = trust.calibrated(logits)
    sets = prediction_sets(calibrated, trust.conformal_quantile)
    novelty, memory = trust.signals(logits, features)
    other_novelty, other_memory = trust.signals(others.logits, others.features)
    by_memory, by_novelty = trust.decision.fired(other_novelty, other_memory)
    return {
        "raw": target_probabilities(logits, trust.num_targets), "calibrated": calibrated,
        "in_scope": trust.in_scope_score(logits, features), "flag": trust.out_of_scope(logits, features),
        "covered": sets[np.arange(labels.size), labels], "set_size": sets.sum(axis=1),
        "novelty": novelty, "memory": memory,
        "other_in_scope": trust.in_scope_score(others.logits, others.features),
        "other_flag": trust.out_of_scope(others.logits, others.features),
        "other_max_probability": trust.calibrated(others.logits).max(axis=1),
        "other_novelty": other_novelty, "other_memory": other_memory,
        "other_by_memory": by_memory, "other_by_novelty": by_novelty,
    }


def trust_figures(outputs: dict, cfg: TrustConfig, positive_index: int, draws: int = DEFAULT_DRAWS,
                  seed: int = 0) -> dict:
    test_t, test_o = outputs["test"]
    eval_t, eval_o = outputs["eval"]
    num_targets = outputs.get("num_targets")
    return {
        "num_targets": num_targets,
        "num_outputs": int(np.asarray(test_t.logits).shape[1]),
        "test_cross_fit": cross_fit_figures(test_t, test_o, cfg, positive_index, draws, seed, num_targets),
        "eval": eval_split_figures(test_t, eval_t, eval_o, cfg, positive_index, draws, seed, num_targets),
    }


def _fmt(interval: dict, digits: int = 3) -> str:
    return (f"{interval['value']:.{digits}f} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]")


def format_table(figures: dict, positive_label: str = "MEL") -> str:
    """Figure | test (cross-fit) | eval: value [95% interval] (n)."""
    test, evaluation = figures["test_cross_fit"], figures["eval"]
    rows = [
        ("balanced accuracy", "balanced_accuracy"), (f"{positive_label} AUC", "positive_auc"),
        ("top-label ECE, before", "ece_before"), ("top-label ECE, after (temperature)", "ece_after"),
        ("out-of-scope AUROC, decision", "ood_auroc"), ("out-of-scope AUROC, novelty alone", "ood_auroc_novelty"),
        ("out-of-scope AUROC, memory alone", "ood_auroc_memory"),
        ("out-of-scope AUROC, max softmax", "ood_auroc_max_softmax"),
        ("other diagnoses flagged (95% retention)", "other_flag_rate"),
        ("  flagged by memory", "other_flagged_by_memory"), ("  flagged by novelty", "other_flagged_by_novelty"),
        ("targets flagged", "target_flag_rate"),
        ("conformal coverage (nominal %.2f)" % test["conformal_nominal"], "coverage"),
        ("mean prediction-set size", "mean_set_size"),
    ]

    def n_of(cell):
        return f"{cell['n_targets']}+{cell['n_others']}" if "n_targets" in cell else str(cell["n"])

    lines = [f"{'figure':42s} {'test, cross-fit by lesion':>30s} {'n':>9s} {'eval (fit: all of test)':>30s} {'n':>9s}"]
    for title, key in rows:
        if key in test:
            lines.append(f"{title:42s} {_fmt(test[key]):>30s} {n_of(test[key]):>9s} {_fmt(evaluation[key]):>30s} "
                         f"{n_of(evaluation[key]):>9s}")
    for code, cell in test["per_other_class"].items():
        e = evaluation["per_other_class"].get(code)
        lines.append(f"{'  ' + code + ': AUROC / flagged':42s} {_fmt(cell['ood_auroc'], 2) + ' ' + _fmt(cell['flag_rate'], 2):>30s} "
                     f"{n_of(cell['ood_auroc']):>9s} "
                     f"{(_fmt(e['ood_auroc'], 2) + ' ' + _fmt(e['flag_rate'], 2)) if e else '-':>30s}")
    methods = test["calibration_methods"]
    lines.append("calibration (test, cross-fit; each fitted on a whole fold): ECE / NLL")
    for name in ("temperature", "vector"):
        lines.append(f"  {name:40s} {_fmt(methods[name]['ece']):>30s} NLL {_fmt(methods[name]['nll'])}")
    lines.append(f"  vector - temperature ECE: {_fmt(methods['ece_vector_minus_temperature'])}")
    lines.append(f"outputs {figures['num_outputs']} ({figures['num_targets']} targets); eval fit: signals "
                 f"{evaluation['signals']}, flag {evaluation['flag'].get('status')}")
    return "\n".join(lines)
