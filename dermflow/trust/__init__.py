"""Results a hospital can trust: calibration, the out-of-scope flag and conformal prediction sets.

    trust = fit_trust(logits, features, labels, cfg.trust, others=others, num_targets=3)   # after training
    export_model(built, labels, export_dir, image_path, trust=trust)   # applied in every signature

Numpy only (no TensorFlow): the exporter (dermflow.models) puts the fitted values inside the model.
See docs/trust.md.
"""
from dermflow.trust.abstention_outputs import memory_score, other_diagnosis_probability, target_probabilities
from dermflow.trust.bootstrap import Interval, bootstrap_interval
from dermflow.trust.calibration_metrics import classwise_ece, expected_calibration_error, reliability_bins
from dermflow.trust.conformal_sets import conformal_threshold, prediction_sets
from dermflow.trust.feature_distance import FeatureDistance, fit_feature_distance
from dermflow.trust.out_of_scope_decision import OutOfScopeDecision, fit_out_of_scope_decision
from dermflow.trust.out_of_scope_metrics import auroc, out_of_scope_figures
from dermflow.trust.out_of_scope_reason import WORDING, OutOfScopeReason, out_of_scope_reason
from dermflow.trust.temperature_scaling import fit_temperature, softmax
from dermflow.trust.trust_fitter import OtherDiagnoses, TrustParameters, evaluate_trust, fit_halves, fit_trust

__all__ = [
    "FeatureDistance",
    "Interval",
    "OtherDiagnoses",
    "OutOfScopeDecision",
    "OutOfScopeReason",
    "TrustParameters",
    "WORDING",
    "auroc",
    "bootstrap_interval",
    "classwise_ece",
    "conformal_threshold",
    "evaluate_trust",
    "expected_calibration_error",
    "fit_feature_distance",
    "fit_out_of_scope_decision",
    "fit_halves",
    "fit_temperature",
    "fit_trust",
    "memory_score",
    "other_diagnosis_probability",
    "out_of_scope_figures",
    "out_of_scope_reason",
    "prediction_sets",
    "reliability_bins",
    "softmax",
    "target_probabilities",
]
