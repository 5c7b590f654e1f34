"""The reviewed slice is evaluated with the gated config's metrics but never gated, on its overall slice only."""
from tfx.utils import proto_utils

from dermflow.components.reviewed_slice_evaluator.executor import without_thresholds
from dermflow.config import load_config
from dermflow.evaluation.eval_config_builder import build_eval_config


def test_the_reviewed_slice_config_keeps_the_metrics_and_drops_every_gate_and_slice():
    from tensorflow_model_analysis.proto import config_pb2

    cfg = load_config(None, ["trust.max_ece=0.2"])
    gated = build_eval_config(cfg, cfg.labels.label_names())
    reported = config_pb2.EvalConfig()
    proto_utils.json_to_proto(without_thresholds(proto_utils.proto_to_json(gated)), reported)
    names = lambda config: [m.class_name for spec in config.metrics_specs for m in spec.metrics]  # noqa: E731
    assert names(reported) == names(gated) and "IsicBalancedAccuracy" in names(reported)
    assert any(m.per_slice_thresholds for spec in gated.metrics_specs for m in spec.metrics)
    assert not any(m.per_slice_thresholds or m.HasField("threshold") for spec in reported.metrics_specs for m in spec.metrics)
    assert len(reported.slicing_specs) == 1 and not reported.slicing_specs[0].feature_keys
