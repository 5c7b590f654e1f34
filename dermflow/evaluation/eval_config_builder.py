"""The TFMA EvalConfig of the training pipeline: ISIC metrics, slices and the blessing gates.

The config protos come from `tensorflow_model_analysis.proto.config_pb2`: the `tfma.EvalConfig`
alias only exists once `tfx` has been imported.
"""
from __future__ import annotations

import json

from tensorflow_model_analysis.proto import config_pb2 as tfma

from dermflow.config import DermflowConfig
from dermflow.evaluation.isic_metrics import ISIC_BALANCED_ACCURACY_NAME

METRICS_MODULE = "dermflow.evaluation.isic_metrics"
LABEL_KEY = "label"
PREDICTION_KEY = "probabilities"
SIGNATURE = "serving_default"
SLICE_FEATURES = ("sex", "anatom_site_general", "age_bucket")
GATED_METRIC = ISIC_BALANCED_ACCURACY_NAME


def build_eval_config(cfg: DermflowConfig, label_names: list[str]) -> tfma.EvalConfig:
    """Overall and per-class metrics, sliced by sex, site and age bucket, gated on ISIC balanced accuracy."""
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=SIGNATURE, label_key=LABEL_KEY, prediction_key=PREDICTION_KEY)],
        metrics_specs=[overall_metrics_spec(cfg, len(label_names)), per_class_metrics_spec(len(label_names))],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[name]) for name in SLICE_FEATURES],
    )


def overall_metrics_spec(cfg: DermflowConfig, num_classes: int) -> tfma.MetricsSpec:
    return tfma.MetricsSpec(
        metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="ArgmaxAccuracy", module=METRICS_MODULE),
            tfma.MetricConfig(
                class_name="IsicBalancedAccuracy",
                module=METRICS_MODULE,
                # Gated on the whole eval split only: a plain `threshold` would gate every slice too.
                per_slice_thresholds=[
                    tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=balanced_accuracy_gate(cfg))
                ],
            ),
            tfma.MetricConfig(
                class_name="ArgmaxClassMetrics", module=METRICS_MODULE, config=json.dumps({"num_classes": num_classes})
            ),
            ece_metric_config(cfg),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ]
    )


def ece_metric_config(cfg: DermflowConfig) -> tfma.MetricConfig:
    """Top-label ECE of the exported (calibrated) probabilities; gated when ``trust.max_ece`` is set."""
    config = tfma.MetricConfig(
        class_name="ExpectedCalibrationError", module=METRICS_MODULE, config=json.dumps({"bins": cfg.trust.ece_bins})
    )
    if cfg.trust.max_ece is not None:
        config.per_slice_thresholds.append(tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()],
            threshold=tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(upper_bound={"value": cfg.trust.max_ece})
            ),
        ))
    return config


def per_class_metrics_spec(num_classes: int) -> tfma.MetricsSpec:
    """One-vs-rest metrics on each class's probability: AUC and calibration."""
    return tfma.MetricsSpec(
        metrics=[
            tfma.MetricConfig(class_name="AUC"),
            tfma.MetricConfig(class_name="Calibration"),
            tfma.MetricConfig(class_name="CalibrationPlot", config=json.dumps({"num_buckets": 10})),
        ],
        binarize=tfma.BinarizationOptions(class_ids={"values": list(range(num_classes))}),
    )


def balanced_accuracy_gate(cfg: DermflowConfig) -> tfma.MetricThreshold:
    """An absolute floor, and no drop beyond ``eval.max_regression`` against the baseline (when there is one)."""
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": cfg.eval.min_balanced_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -cfg.eval.max_regression}
        ),
    )
