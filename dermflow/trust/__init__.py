"""Results a hospital can trust: calibration, the out-of-scope flag and conformal prediction sets.

    trust = fit_trust(logits, features, labels, cfg.trust, others=others)   # held-out data, after training
    export_model(built, labels, export_dir, image_path, trust=trust)   # applied in every signature

Numpy only (no TensorFlow): the exporter (dermflow.models) puts the fitted values inside the model.
See docs/trust.md.
"""
from dermflow.trust.bootstrap import Interval, bootstrap_interval
from dermflow.trust.calibration_metrics import classwise_ece, expected_calibration_error, reliability_bins
from dermflow.trust.conformal_sets import conformal_threshold, prediction_sets
from dermflow.trust.feature_distance import FeatureDistance, fit_feature_distance
from dermflow.trust.other_classifier import OtherClassifier, fit_other_classifier
from dermflow.trust.out_of_scope_metrics import auroc, out_of_scope_figures
from dermflow.trust.score_combination import ScoreCombination, fit_score_combination
from dermflow.trust.temperature_scaling import fit_temperature, softmax
from dermflow.trust.trust_fitter import OtherDiagnoses, TrustParameters, evaluate_trust, fit_halves, fit_trust

__all__ = [
    "FeatureDistance",
    "Interval",
    "OtherClassifier",
    "OtherDiagnoses",
    "ScoreCombination",
    "TrustParameters",
    "auroc",
    "bootstrap_interval",
    "classwise_ece",
    "conformal_threshold",
    "evaluate_trust",
    "expected_calibration_error",
    "fit_feature_distance",
    "fit_halves",
    "fit_other_classifier",
    "fit_score_combination",
    "fit_temperature",
    "fit_trust",
    "out_of_scope_figures",
    "prediction_sets",
    "reliability_bins",
    "softmax",
]
