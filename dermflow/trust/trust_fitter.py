"""Fits the temperature, the out-of-scope decision and the conformal quantile on held-out data.

    trust = fit_trust(logits, features, labels, cfg.trust)                   # held-out, in-scope images
    trust = fit_trust(logits, features, labels, cfg.trust, others=others, num_targets=3)   # + abstention outputs
    summary = trust.summary()                                                # -> calibration.json
    figures = evaluate_trust(trust, logits, features, labels, bins, others)  # on data used for none of it

``logits`` [N, C + K]: the C target outputs, then the K abstention outputs of a model trained with
``trust.abstention: hod`` (K = 0 without; :mod:`dermflow.trust.abstention_outputs`). The held-out
in-scope images are split at random (``trust.seed``) into two disjoint halves:

- part A fits the temperature (NLL of the target logits, renormalised over the targets) and the
  feature-distance detector (target class means and their shared covariance: novelty);
- part B, with A's temperature and detector, fixes the out-of-scope decision (its references and the
  threshold that keeps ``in_scope_retention`` of its in-scope images,
  :mod:`dermflow.trust.out_of_scope_decision`) and the conformal quantile (``conformal_coverage``),
  so none is fitted on the data that chose the temperature.

The held-out images of the archive's other diagnoses (``others``, :class:`OtherDiagnoses`,
ClassFilter's out-of-scope examples of the same split) fit nothing: they give the fit-time
out-of-scope figures in ``fit["out_of_scope"]`` (the abstention outputs learnt their codes from the
train split, so these are "known other diagnoses", not novelty).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dermflow.config import TrustConfig
from dermflow.trust.abstention_outputs import memory_score, other_diagnosis_probability, target_probabilities
from dermflow.trust.calibration_metrics import classwise_ece, expected_calibration_error
from dermflow.trust.conformal_sets import conformal_threshold, prediction_sets
from dermflow.trust.feature_distance import FeatureDistance, fit_feature_distance, max_softmax_score
from dermflow.trust.out_of_scope_decision import OutOfScopeDecision, fit_out_of_scope_decision
from dermflow.trust.out_of_scope_metrics import auroc, out_of_scope_figures
from dermflow.trust.out_of_scope_reason import out_of_scope_reason
from dermflow.trust.temperature_scaling import fit_temperature

MIN_PART = 2


@dataclass(frozen=True)
class OtherDiagnoses:
    """Held-out images of the archive's non-target diagnoses: logits [M, C + K], features [M, D], ISIC codes [M]."""

    logits: np.ndarray
    features: np.ndarray
    codes: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "logits", np.asarray(self.logits, np.float64))
        object.__setattr__(self, "features", np.asarray(self.features, np.float64))
        object.__setattr__(self, "codes", np.asarray(self.codes).astype(str))

    def __len__(self) -> int:
        return int(self.codes.size)

    def subset(self, index) -> "OtherDiagnoses":
        return OtherDiagnoses(self.logits[index], self.features[index], self.codes[index])


@dataclass(frozen=True)
class TrustParameters:
    """What the exported model applies in every signature (models.trust_head.TrustHead)."""

    temperature: float
    num_targets: int  # C: the first C logits are the targets, the rest abstention outputs
    distance: FeatureDistance  # novelty
    decision: OutOfScopeDecision  # novelty + memory -> out of scope
    conformal_quantile: float  # the set holds c when p_c >= 1 - conformal_quantile
    in_scope_retention: float
    conformal_coverage: float
    fit: dict = field(default_factory=dict)  # sizes, split, ECE before/after on the fitting parts

    @classmethod
    def identity(cls, num_targets: int, dim: int) -> "TrustParameters":
        """Nothing fitted: temperature 1, nothing out of scope (score 1), every set full."""
        return cls(1.0, num_targets, FeatureDistance.identity(num_targets, dim), OutOfScopeDecision.identity(), 1.0,
                   0.0, 1.0, {"fitted": False})

    @property
    def fitted(self) -> bool:
        return bool(self.fit.get("fitted"))

    @property
    def distance_threshold(self) -> float:
        return self.decision.threshold

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        """[N, C]: the target probabilities, renormalised over the targets, then calibrated."""
        return target_probabilities(logits, self.num_targets, self.temperature)

    def other_diagnosis_probability(self, logits: np.ndarray) -> np.ndarray:
        return other_diagnosis_probability(logits, self.num_targets)

    def signals(self, logits: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(novelty, memory) per image."""
        return self.distance.distance(features), memory_score(logits, self.num_targets)

    def out_of_scope_score(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The decision score (grows with "out of scope"), as the exported model computes it."""
        return self.decision.score(*self.signals(logits, features))

    def in_scope_score(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        return self.decision.in_scope_score(*self.signals(logits, features))

    def out_of_scope(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        return self.decision.out_of_scope(*self.signals(logits, features))

    def out_of_scope_reasons(self, logits: np.ndarray, features: np.ndarray) -> list:
        """Per image: the OutOfScopeReason of its flag, or None when in scope."""
        other_diagnosis, novel = self.decision.fired(*self.signals(logits, features))
        return [out_of_scope_reason(bool(m), bool(n)) for m, n in zip(other_diagnosis, novel)]

    def summary(self) -> dict:
        """JSON-ready: the fitted values (not the detector's matrices) and the fitting figures."""
        scope = {
            **self.decision.summary(),
            "novelty": {"method": self.distance.method,
                        "score": "squared Mahalanobis distance of the L2-normalised penultimate features to the nearest "
                                 "target mean (covariance of the targets)"},
            "in_scope_retention": self.in_scope_retention,
        }
        if self.decision.has_memory:
            scope["memory"] = {"score": "log(p_other / (1 - p_other)), p_other = summed softmax probability of the "
                                        "abstention outputs"}
        return {
            "temperature": self.temperature,
            "out_of_scope": scope,
            "conformal": {"coverage": self.conformal_coverage, "quantile": self.conformal_quantile,
                          "score": "1 - calibrated probability of the true label"},
            "fit": self.fit,
        }


def _halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


def fit_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(part A, part B): the indices :func:`fit_trust` draws for ``n`` held-out images with ``trust.seed`` ``seed``
    (the drift baseline keeps part B, which fitted neither the temperature nor the class means)."""
    return _halves(n, np.random.default_rng(seed))


def fit_trust(logits: np.ndarray, features: np.ndarray, labels: np.ndarray, cfg: TrustConfig,
              split: str = "test", others: OtherDiagnoses | None = None,
              num_targets: int | None = None) -> TrustParameters:
    """``logits`` [N, C + K] (``num_targets`` C; default: all of them, no abstention outputs), ``features`` [N, D]
    (the classifier's dense input), ``labels`` [N] of held-out in-scope images; ``others``: held-out images of the
    other diagnoses, measured, not fitted on."""
    logits = np.asarray(logits, dtype=np.float64)
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    num_targets = logits.shape[1] if num_targets is None else int(num_targets)
    has_memory = logits.shape[1] > num_targets
    if labels.size < 2 * MIN_PART:
        params = TrustParameters.identity(num_targets, features.shape[1])
        return TrustParameters(**{**params.__dict__, "fit": {"fitted": False, "reason": f"{labels.size} held-out images"}})
    part_a, part_b = _halves(labels.size, np.random.default_rng(cfg.seed))

    temperature = fit_temperature(logits[part_a, :num_targets], labels[part_a])
    detector = fit_feature_distance(features[part_a], labels[part_a], num_targets)
    decision = fit_out_of_scope_decision(detector.distance(features[part_b]),
                                         memory_score(logits[part_b], num_targets) if has_memory else None,
                                         cfg.in_scope_retention)
    calibrated_b = target_probabilities(logits[part_b], num_targets, temperature)
    quantile = conformal_threshold(calibrated_b, labels[part_b], cfg.conformal_coverage)
    fit = {
        "fitted": True,
        "split": split,
        "sizes": {"held_out": int(labels.size), "part_a": int(part_a.size), "part_b": int(part_b.size),
                  "others": 0 if others is None else len(others)},
        "part_a": "temperature + feature-distance detector (target means, their covariance)",
        "part_b": "out-of-scope decision (references, threshold) + conformal quantile; ECE below is measured on it",
        "ece_bins": cfg.ece_bins,
        "ece_before": expected_calibration_error(target_probabilities(logits[part_b], num_targets), labels[part_b],
                                                 cfg.ece_bins),
        "ece_after": expected_calibration_error(calibrated_b, labels[part_b], cfg.ece_bins),
    }
    trust = TrustParameters(temperature, num_targets, detector, decision, quantile, cfg.in_scope_retention,
                            cfg.conformal_coverage, fit)
    if others is not None and len(others):
        figures = _out_of_scope_section(trust, logits[part_b], features[part_b], others)
        figures["note"] = ("the split's other diagnoses against part B's targets; they fitted nothing (the abstention "
                           "outputs learnt their codes from the train split: known diagnoses, not novelty)")
        fit["out_of_scope"] = figures
    return trust


def _out_of_scope_section(trust: TrustParameters, logits: np.ndarray, features: np.ndarray,
                          others: OtherDiagnoses) -> dict:
    """AUROC (overall, per code; the decision, each signal, max softmax), flag rates and which signal fired."""
    target_scores = trust.out_of_scope_score(logits, features)
    other_scores = trust.out_of_scope_score(others.logits, others.features)
    section = out_of_scope_figures(target_scores, other_scores, others.codes, trust.out_of_scope(logits, features),
                                   trust.out_of_scope(others.logits, others.features))
    section["auroc_max_softmax"] = auroc(max_softmax_score(trust.calibrated(logits)),
                                         max_softmax_score(trust.calibrated(others.logits)))
    (novelty, memory), (other_novelty, other_memory) = (trust.signals(logits, features),
                                                        trust.signals(others.logits, others.features))
    section["auroc_novelty"] = auroc(novelty, other_novelty)
    if trust.decision.has_memory:
        section["auroc_memory"] = auroc(memory, other_memory)
        fired_memory, fired_novelty = trust.decision.fired(other_novelty, other_memory)
        section["other_flagged_by"] = {"memory": float(fired_memory.mean()), "novelty": float(fired_novelty.mean())}
    return section


def evaluate_trust(trust: TrustParameters, logits: np.ndarray, features: np.ndarray, labels: np.ndarray,
                   bins: int = 15, others: OtherDiagnoses | None = None) -> dict:
    """ECE before/after (top-label and per class), coverage, set sizes and in-scope flag rate on in-scope images;
    with ``others``, the out-of-scope AUROC (overall, per code; the decision, each signal, max softmax) and flag rates."""
    labels = np.asarray(labels, dtype=np.int64)
    raw = target_probabilities(logits, trust.num_targets)
    calibrated = trust.calibrated(logits)
    sets = prediction_sets(calibrated, trust.conformal_quantile)
    sizes = sets.sum(axis=1)
    figures = {
        "count": int(labels.size),
        "ece_before": expected_calibration_error(raw, labels, bins),
        "ece_after": expected_calibration_error(calibrated, labels, bins),
        "classwise_ece_before": classwise_ece(raw, labels, bins),
        "classwise_ece_after": classwise_ece(calibrated, labels, bins),
        "coverage": float(sets[np.arange(labels.size), labels].mean()) if labels.size else float("nan"),
        "mean_set_size": float(sizes.mean()) if labels.size else float("nan"),
        "committed_share": float((sizes == 1).mean()) if labels.size else float("nan"),
        "in_scope_flag_rate": float(trust.out_of_scope(logits, features).mean()) if labels.size else float("nan"),
    }
    if others is not None and len(others) and labels.size:
        figures["out_of_scope"] = _out_of_scope_section(trust, logits, features, others)
    return figures
