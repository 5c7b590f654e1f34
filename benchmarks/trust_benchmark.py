"""Trust figures of the real-sample benchmark, with bootstrap 95% intervals (numpy; no TensorFlow here).

    outputs = {"test": (targets, others), "eval": (targets, others)}   # per image: logits, features, labels, ...
    figures = trust_figures(outputs, cfg.trust, positive_index=0, draws=1000)
    print(format_table(figures))

``targets`` / ``others`` are anything with ``logits`` [N, C], ``features`` [N, D], ``labels`` [N] (-1 for
others), ``label_names`` [N] (an other's ISIC code), ``lesion_ids`` [N] and ``image_ids`` [N]
(pipelines.training.trainer_calibration.HeadOutputs).

Honest data use (docs/trust.md):

- **test split, 2-fold cross-fit by lesion.** The test split's lesions (an image without a lesion id
  is its own lesion) are split at random into two folds, targets and other diagnoses alike. Trust is
  fitted with :func:`dermflow.trust.fit_trust` (the Trainer's own fitting function, the Trainer's
  ``trust`` settings) on one fold and applied to the other, then the other way round; the per-image
  results of the two evaluated folds are pooled. No figure comes from an image its detector,
  temperature, threshold or conformal quantile saw. The model never saw the test split.
- **eval split**: trust fitted on the whole test split (as the Trainer does), applied to eval. The
  eval split chose the epoch, so its accuracy is slightly optimistic; none of the trust values.
- **leave one class out** (test, cross-fit): for each other diagnosis k, the fit fold's other
  diagnoses *without k* give the other means and train the other-diagnosis classifier (both are
  fitted by ``fit_trust`` from the ``others`` it is given); AUROC of k's evaluated images against
  the evaluated targets. Novelty, not memory.
- **choices on eval** (``beta_sweep_on_eval``, ``combination_sweep_on_eval``): each candidate
  setting fitted on the whole test split, measured on eval (which fixed none of the trust values):
  AUROC, share of the other diagnoses flagged, and the leave-one-class-out mean AUROC (code k out of
  the means and the classifier). The classifier alone and max softmax are measured beside them.

Every figure: value, bootstrap 95% percentile interval (images resampled, fixed seed; targets and
other diagnoses resampled separately for the out-of-scope figures), and n.
"""
from __future__ import annotations

import math

import numpy as np

from dermflow.config import TrustConfig
from dermflow.trust import (
    OtherDiagnoses, auroc, bootstrap_interval, expected_calibration_error, fit_temperature, fit_trust,
    prediction_sets, softmax)
from dermflow.trust.bootstrap import DEFAULT_DRAWS
from dermflow.trust.calibration_metrics import classwise_ece
from dermflow.trust.feature_distance import max_softmax_score
from dermflow.trust.vector_scaling import apply_vector_scaling, fit_vector_scaling

BETA_CANDIDATES = (0.0, 1.0, 2.0, 4.0, 8.0)
# TrustConfig settings compared on eval: the feature distance alone, and combined with the classifier.
COMBINATION_CANDIDATES = (
    *({"other_classifier": "off", "other_class_weight": beta} for beta in (0.0, 2.0)),
    *({"other_classifier": "either_pvalue", "other_class_weight": beta, "other_classifier_c": c}
      for beta in (0.0, 2.0) for c in (0.1, 1.0, 10.0)),
    *({"other_classifier": "weighted_sum", "other_class_weight": beta, "other_classifier_c": c,
       "other_classifier_weight": gamma} for beta in (0.0, 2.0) for c in (1.0, 10.0) for gamma in (0.5, 1.0, 2.0)),
)


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    from dermflow.pipelines.training.trainer_callbacks import isic_balanced_accuracy

    return isic_balanced_accuracy(labels, predicted)


def lesion_folds(lesion_ids: np.ndarray, image_ids: np.ndarray, seed: int) -> np.ndarray:
    """0/1 per image; all images of one lesion share a fold (no lesion id: the image is its own lesion)."""
    groups = np.array([lesion or f"image:{image}" for lesion, image in zip(lesion_ids, image_ids)], dtype=object)
    unique = np.array(sorted(set(groups.tolist())), dtype=object)
    order = np.random.default_rng(seed).permutation(unique.size)
    second = set(unique[order[unique.size // 2:]].tolist())
    return np.array([g in second for g in groups], dtype=np.int64)


def _others(images, index) -> OtherDiagnoses:
    return OtherDiagnoses(images.logits[index], images.features[index], np.asarray(images.label_names)[index])


def cross_fit(targets, others, cfg: TrustConfig, folds_t: np.ndarray, folds_o: np.ndarray,
              leave_out: str | None = None) -> dict:
    """Fit on one fold, apply to the other, both ways; per-image results pooled (in the input order)."""
    n, m = len(targets.labels), len(others.labels)
    codes = np.asarray(others.label_names).astype(str)
    pooled = {
        "raw": np.zeros_like(targets.logits), "calibrated": np.zeros_like(targets.logits),
        "in_scope": np.zeros(n), "flag": np.zeros(n, bool), "covered": np.zeros(n, bool), "set_size": np.zeros(n),
        "other_in_scope": np.zeros(m), "other_flag": np.zeros(m, bool), "other_max_probability": np.zeros(m),
        "folds": [],
    }
    for fold in (0, 1):
        fit_t, apply_t = folds_t != fold, folds_t == fold
        fit_o, apply_o = folds_o != fold, folds_o == fold
        if leave_out is not None:
            fit_o = fit_o & (codes != leave_out)
        trust = fit_trust(targets.logits[fit_t], targets.features[fit_t], targets.labels[fit_t], cfg,
                          split="test (cross-fit)", others=_others(others, fit_o) if fit_o.any() else None)
        calibrated = trust.calibrated(targets.logits[apply_t])
        sets = prediction_sets(calibrated, trust.conformal_quantile)
        labels = targets.labels[apply_t]
        pooled["raw"][apply_t] = softmax(targets.logits[apply_t])
        pooled["calibrated"][apply_t] = calibrated
        pooled["in_scope"][apply_t] = trust.in_scope_score(targets.features[apply_t])
        pooled["flag"][apply_t] = trust.out_of_scope(targets.features[apply_t])
        pooled["covered"][apply_t] = sets[np.arange(labels.size), labels]
        pooled["set_size"][apply_t] = sets.sum(axis=1)
        if apply_o.any():
            pooled["other_in_scope"][apply_o] = trust.in_scope_score(others.features[apply_o])
            pooled["other_flag"][apply_o] = trust.out_of_scope(others.features[apply_o])
            pooled["other_max_probability"][apply_o] = trust.calibrated(others.logits[apply_o]).max(axis=1)
        pooled["folds"].append({
            "fit_targets": int(fit_t.sum()), "fit_others": int(fit_o.sum()), "applied_targets": int(apply_t.sum()),
            "applied_others": int(apply_o.sum()), "temperature": trust.temperature,
            "other_classes": list(trust.distance.other_codes), "conformal_quantile": trust.conformal_quantile,
            "other_classifier": trust.other_classifier is not None,
            "classifier_codes": sorted(trust.fit.get("other_class_images_part_a", {})) if trust.other_classifier else [],
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


def headline_figures(labels, raw, calibrated, in_scope, flag, covered, set_size, other_in_scope, other_flag,
                     other_max_probability, other_codes, target_max_probability, positive_index, bins, draws,
                     seed) -> dict:
    """The issue's figures on one set of evaluated images (each with its interval and n)."""
    predicted = raw.argmax(axis=1)
    positive = labels == positive_index
    other_codes = np.asarray(other_codes).astype(str)
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
        "ood_auroc_max_softmax": _ood(1.0 - target_max_probability, 1.0 - other_max_probability, draws, seed),
        "other_flag_rate": _mean(other_flag, draws, seed),
        "target_flag_rate": _mean(flag, draws, seed),
        "coverage": _mean(covered, draws, seed),
        "mean_set_size": _mean(set_size, draws, seed),
        "per_other_class": {},
    }
    for code in sorted(set(other_codes.tolist())):
        mask = other_codes == code
        figures["per_other_class"][code] = {
            "ood_auroc": _ood(1.0 - in_scope, 1.0 - other_in_scope[mask], draws, seed),
            "flag_rate": _mean(other_flag[mask], draws, seed),
        }
    return figures


def cross_fit_figures(targets, others, cfg: TrustConfig, positive_index: int, draws: int, seed: int) -> dict:
    """The test split's figures: 2-fold cross-fit by lesion, leave one class out, temperature vs vector scaling."""
    # One fold assignment for targets and others: a lesion id seen among both gets one fold.
    both = lesion_folds(np.r_[targets.lesion_ids, others.lesion_ids], np.r_[targets.image_ids, others.image_ids],
                        cfg.seed)
    folds_t, folds_o = both[: len(targets.labels)], both[len(targets.labels):]
    pooled = cross_fit(targets, others, cfg, folds_t, folds_o)
    codes = np.asarray(others.label_names).astype(str)
    figures = headline_figures(
        targets.labels, pooled["raw"], pooled["calibrated"], pooled["in_scope"], pooled["flag"], pooled["covered"],
        pooled["set_size"], pooled["other_in_scope"], pooled["other_flag"], pooled["other_max_probability"], codes,
        pooled["calibrated"].max(axis=1), positive_index, cfg.ece_bins, draws, seed)
    figures["folds"] = pooled["folds"]
    figures["conformal_nominal"] = cfg.conformal_coverage
    figures["coverage_binomial_interval"] = _binomial_interval(len(targets.labels), cfg.conformal_coverage)
    loco = {}
    for code in sorted(set(codes.tolist())):
        left_out = cross_fit(targets, others, cfg, folds_t, folds_o, leave_out=code)
        mask = codes == code
        loco[code] = _ood(1.0 - left_out["in_scope"], 1.0 - left_out["other_in_scope"][mask], draws, seed)
        loco[code]["flag_rate"] = float(left_out["other_flag"][mask].mean())
    figures["leave_one_class_out"] = loco
    figures["calibration_methods"] = calibration_comparison(targets, folds_t, cfg.ece_bins, draws, seed)
    return figures


def _binomial_interval(n: int, level: float) -> list[float]:
    from scipy.stats import binom

    low, high = binom.interval(0.95, n, level)
    return [float(low / n), float(high / n)] if n else [math.nan, math.nan]


def calibration_comparison(targets, folds: np.ndarray, bins: int, draws: int, seed: int) -> dict:
    """Temperature vs vector scaling, each fitted on one whole fold and applied to the other (cross-fit)."""
    temperature_p = np.zeros_like(targets.logits)
    vector_p = np.zeros_like(targets.logits)
    fitted = []
    for fold in (0, 1):
        fit, apply = folds != fold, folds == fold
        t = fit_temperature(targets.logits[fit], targets.labels[fit])
        scale, bias = fit_vector_scaling(targets.logits[fit], targets.labels[fit])
        temperature_p[apply] = softmax(targets.logits[apply] / t)
        vector_p[apply] = apply_vector_scaling(targets.logits[apply], scale, bias)
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


def eval_split_figures(fit_targets, fit_others, targets, others, cfg: TrustConfig, positive_index: int, draws: int,
                       seed: int) -> dict:
    """Trust fitted on the whole test split (as the Trainer does), figures on the eval split."""
    trust = fit_trust(fit_targets.logits, fit_targets.features, fit_targets.labels, cfg, split="test",
                      others=_others(fit_others, np.ones(len(fit_others.labels), bool)) if len(fit_others.labels) else None)
    calibrated = trust.calibrated(targets.logits)
    sets = prediction_sets(calibrated, trust.conformal_quantile)
    labels = targets.labels
    figures = headline_figures(
        labels, softmax(targets.logits), calibrated, trust.in_scope_score(targets.features),
        trust.out_of_scope(targets.features), sets[np.arange(labels.size), labels], sets.sum(axis=1),
        trust.in_scope_score(others.features), trust.out_of_scope(others.features),
        trust.calibrated(others.logits).max(axis=1), others.label_names, calibrated.max(axis=1), positive_index,
        cfg.ece_bins, draws, seed)
    figures["temperature"] = trust.temperature
    figures["other_classes"] = list(trust.distance.other_codes)
    figures["other_classifier"] = trust.other_classifier is not None
    if trust.other_classifier is not None:
        figures["ood_auroc_feature_distance"] = _ood(trust.distance.distance(targets.features),
                                                     trust.distance.distance(others.features), draws, seed)
        figures["ood_auroc_other_classifier"] = _ood(trust.other_classifier.logit(targets.features),
                                                     trust.other_classifier.logit(others.features), draws, seed)
    figures["coverage_binomial_interval"] = _binomial_interval(len(labels), cfg.conformal_coverage)
    return figures


def beta_sweep(test_t, test_o, eval_t, eval_o, cfg: TrustConfig, candidates=BETA_CANDIDATES) -> list[dict]:
    """Per beta: eval AUROC / flag rate (fit on all of test), and eval leave-one-class-out mean AUROC.

    Chosen on eval (which fixed none of the trust values); the test split's cross-fit figures of the
    chosen beta are then the honest ones."""
    rows = []
    codes = np.asarray(test_o.label_names).astype(str)
    eval_codes = np.asarray(eval_o.label_names).astype(str)
    for beta in candidates:
        beta_cfg = cfg.model_copy(update={"other_class_weight": beta, "other_classifier": "off"})
        trust = fit_trust(test_t.logits, test_t.features, test_t.labels, beta_cfg,
                          others=_others(test_o, np.ones(codes.size, bool)))
        target_scores = 1.0 - trust.in_scope_score(eval_t.features)
        other_scores = 1.0 - trust.in_scope_score(eval_o.features)
        loco = []
        for code in sorted(set(eval_codes.tolist())):
            keep = codes != code
            left = fit_trust(test_t.logits, test_t.features, test_t.labels, beta_cfg,
                             others=_others(test_o, keep) if keep.any() else None)
            loco.append(auroc(1.0 - left.in_scope_score(eval_t.features),
                              1.0 - left.in_scope_score(eval_o.features[eval_codes == code])))
        rows.append({"beta": beta, "eval_ood_auroc": auroc(target_scores, other_scores),
                     "eval_other_flag_rate": float(trust.out_of_scope(eval_o.features).mean()),
                     "eval_leave_one_class_out_mean_auroc": float(np.mean(loco)) if loco else math.nan})
    return rows


def _flag_rate(scores: np.ndarray, threshold: float) -> float:
    return float((np.asarray(scores) > threshold).mean()) if len(scores) else math.nan


def combination_sweep(test_t, test_o, eval_t, eval_o, cfg: TrustConfig,
                      candidates=COMBINATION_CANDIDATES) -> list[dict]:
    """Per candidate setting (fit on all of test): eval AUROC / other diagnoses flagged / targets flagged, and the
    eval leave-one-class-out mean AUROC (k out of the means and the classifier); with a classifier, the
    classifier alone too (its threshold: part B's in-scope logits at ``in_scope_retention``)."""
    from dermflow.trust.trust_fitter import _quantile_rank

    codes = np.asarray(test_o.label_names).astype(str)
    eval_codes = np.asarray(eval_o.label_names).astype(str)
    every = np.ones(codes.size, bool)
    rows = [{"setting": "max softmax", "eval_ood_auroc": auroc(
        max_softmax_score(softmax(eval_t.logits)), max_softmax_score(softmax(eval_o.logits)))}]
    for update in candidates:
        setting = cfg.model_copy(update=update)
        trust = fit_trust(test_t.logits, test_t.features, test_t.labels, setting,
                          others=_others(test_o, every) if codes.size else None)
        loco = []
        loco_classifier = []
        for code in sorted(set(eval_codes.tolist())):
            keep = codes != code
            left = fit_trust(test_t.logits, test_t.features, test_t.labels, setting,
                             others=_others(test_o, keep) if keep.any() else None)
            mask = eval_codes == code
            loco.append(auroc(left.out_of_scope_score(eval_t.features), left.out_of_scope_score(eval_o.features[mask])))
            if left.other_classifier is not None:
                loco_classifier.append(auroc(left.other_classifier.logit(eval_t.features),
                                             left.other_classifier.logit(eval_o.features[mask])))
        row = {**update, "fitted_classifier": trust.other_classifier is not None,
               "eval_ood_auroc": auroc(trust.out_of_scope_score(eval_t.features),
                                       trust.out_of_scope_score(eval_o.features)),
               "eval_other_flag_rate": float(trust.out_of_scope(eval_o.features).mean()),
               "eval_target_flag_rate": float(trust.out_of_scope(eval_t.features).mean()),
               "eval_leave_one_class_out_mean_auroc": float(np.mean(loco)) if loco else math.nan}
        rows.append(row)
        if trust.other_classifier is not None and update.get("other_classifier") == "either_pvalue" \
                and not any(r.get("setting") == f"classifier alone, C {setting.other_classifier_c:g}" for r in rows):
            threshold = _quantile_rank(trust.combination.logit_reference, setting.in_scope_retention)
            target_logits = trust.other_classifier.logit(eval_t.features)
            other_logits = trust.other_classifier.logit(eval_o.features)
            rows.append({"setting": f"classifier alone, C {setting.other_classifier_c:g}",
                         "eval_ood_auroc": auroc(target_logits, other_logits),
                         "eval_other_flag_rate": _flag_rate(other_logits, threshold),
                         "eval_target_flag_rate": _flag_rate(target_logits, threshold),
                         "eval_leave_one_class_out_mean_auroc": float(np.mean(loco_classifier)) if loco_classifier
                         else math.nan})
    return rows


def _setting_name(row: dict) -> str:
    if "setting" in row:
        return row["setting"]
    name = f"{row['other_classifier']}, beta {row['other_class_weight']:g}"
    if row["other_classifier"] != "off":
        name += f", C {row['other_classifier_c']:g}"
    if row["other_classifier"] == "weighted_sum":
        name += f", gamma {row['other_classifier_weight']:g}"
    return name


def trust_figures(outputs: dict, cfg: TrustConfig, positive_index: int, draws: int = DEFAULT_DRAWS,
                  seed: int = 0, combination_candidates=COMBINATION_CANDIDATES) -> dict:
    test_t, test_o = outputs["test"]
    eval_t, eval_o = outputs["eval"]
    sweep = beta_sweep(test_t, test_o, eval_t, eval_o, cfg)
    chosen = max(sweep, key=lambda row: (round(row["eval_ood_auroc"], 3), -row["beta"]))["beta"]
    combinations = combination_sweep(test_t, test_o, eval_t, eval_o, cfg, combination_candidates)
    settings = [row for row in combinations if "setting" not in row]
    best = max(settings, key=lambda row: round(row["eval_ood_auroc"], 3)) if settings else None
    result = {
        "configured_beta": cfg.other_class_weight,
        "configured_out_of_scope": {key: getattr(cfg, key) for key in (
            "other_classifier", "other_class_weight", "other_classifier_c", "other_classifier_weight")},
        "beta_sweep_on_eval": sweep,
        "beta_best_on_eval": chosen,
        "combination_sweep_on_eval": combinations,
        "combination_best_on_eval": _setting_name(best) if best else None,
        "test_cross_fit": cross_fit_figures(test_t, test_o, cfg, positive_index, draws, seed),
        "eval": eval_split_figures(test_t, test_o, eval_t, eval_o, cfg, positive_index, draws, seed),
    }
    if chosen != cfg.other_class_weight and cfg.other_classifier == "off":
        chosen_cfg = cfg.model_copy(update={"other_class_weight": chosen})
        result["test_cross_fit_best_beta_on_eval"] = cross_fit_figures(test_t, test_o, chosen_cfg, positive_index,
                                                                         draws, seed)
    return result


def _fmt(interval: dict, digits: int = 3) -> str:
    return (f"{interval['value']:.{digits}f} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]")


def format_table(figures: dict, positive_label: str = "MEL") -> str:
    """Figure | test (cross-fit) | eval: value [95% interval] (n)."""
    test, evaluation = figures["test_cross_fit"], figures["eval"]
    rows = [
        ("balanced accuracy", "balanced_accuracy"), (f"{positive_label} AUC", "positive_auc"),
        ("top-label ECE, before", "ece_before"), ("top-label ECE, after (temperature)", "ece_after"),
        ("out-of-scope AUROC, detector", "ood_auroc"), ("out-of-scope AUROC, max softmax", "ood_auroc_max_softmax"),
        ("other diagnoses flagged (95% retention)", "other_flag_rate"), ("targets flagged", "target_flag_rate"),
        ("conformal coverage (nominal %.2f)" % test["conformal_nominal"], "coverage"),
        ("mean prediction-set size", "mean_set_size"),
    ]

    def n_of(cell):
        return f"{cell['n_targets']}+{cell['n_others']}" if "n_targets" in cell else str(cell["n"])

    lines = [f"{'figure':42s} {'test, cross-fit by lesion':>30s} {'n':>9s} {'eval (fit: all of test)':>30s} {'n':>9s}"]
    for title, key in rows:
        lines.append(f"{title:42s} {_fmt(test[key]):>30s} {n_of(test[key]):>9s} {_fmt(evaluation[key]):>30s} "
                     f"{n_of(evaluation[key]):>9s}")
    for code, cell in test["per_other_class"].items():
        e = evaluation["per_other_class"].get(code)
        lines.append(f"{'  ' + code + ': AUROC / flagged':42s} {_fmt(cell['ood_auroc'], 2) + ' ' + _fmt(cell['flag_rate'], 2):>30s} "
                     f"{n_of(cell['ood_auroc']):>9s} "
                     f"{(_fmt(e['ood_auroc'], 2) + ' ' + _fmt(e['flag_rate'], 2)) if e else '-':>30s}")
    lines.append("leave one class out (test, cross-fit): AUROC of k vs targets, k out of the other means")
    for code, cell in test["leave_one_class_out"].items():
        lines.append(f"  {code:40s} {_fmt(cell):>30s} {n_of(cell):>9s}  flagged {cell['flag_rate']:.2f}")
    methods = test["calibration_methods"]
    lines.append("calibration (test, cross-fit; each fitted on a whole fold): ECE / NLL")
    for name in ("temperature", "vector"):
        lines.append(f"  {name:40s} {_fmt(methods[name]['ece']):>30s} NLL {_fmt(methods[name]['nll'])}")
    lines.append(f"  vector - temperature ECE: {_fmt(methods['ece_vector_minus_temperature'])}")
    lines.append("beta (other_class_weight) on eval: AUROC / flagged / leave-one-class-out mean AUROC")
    for row in figures["beta_sweep_on_eval"]:
        lines.append(f"  beta {row['beta']:<5g} {row['eval_ood_auroc']:.3f} / {row['eval_other_flag_rate']:.2f} / "
                     f"{row['eval_leave_one_class_out_mean_auroc']:.3f}")
    lines.append(f"configured beta {figures['configured_beta']:g}, best on eval {figures['beta_best_on_eval']:g}")
    if "ood_auroc_other_classifier" in evaluation:
        lines.append(f"eval components: feature distance {_fmt(evaluation['ood_auroc_feature_distance'])}, "
                     f"classifier {_fmt(evaluation['ood_auroc_other_classifier'])}")
    lines.append("out-of-scope settings on eval (fit: all of test): AUROC / others flagged / targets flagged / "
                 "leave-one-class-out mean AUROC")
    for row in figures.get("combination_sweep_on_eval", []):
        flagged = (f"{row['eval_other_flag_rate']:.2f} / {row['eval_target_flag_rate']:.3f} / "
                   f"{row['eval_leave_one_class_out_mean_auroc']:.3f}") if "eval_other_flag_rate" in row else ""
        lines.append(f"  {_setting_name(row):44s} {row['eval_ood_auroc']:.3f} / {flagged}")
    lines.append(f"configured {figures.get('configured_out_of_scope')}, best AUROC on eval "
                 f"{figures.get('combination_best_on_eval')}")
    return "\n".join(lines)
