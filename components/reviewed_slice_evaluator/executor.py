"""The stock TFX Evaluator on the fixed test split, then the same models on the reviewed slice beside it.

The first evaluation is TFX's own (``example_splits``, the EvalConfig's gates, the blessing). When
the examples declare the ``reviewed`` split (the held-out share of the clinicians' reviewed cases:
docs/training.md#continuous-training), the candidate and the baseline are evaluated once more on
it, with the same metrics and no gates, into ``<evaluation>/reviewed_slice/``
(``dermflow.evaluation.eval_result_reader.read_reviewed_slice`` reads it). It never blesses or
blocks a model: the hospital's own cases are reported beside the fixed test split, not gated on.
"""
from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
from tfx.components.evaluator import executor as stock_executor
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from dermflow.evaluation.eval_result_reader import REVIEWED_SLICE_DIR
from dermflow.isic.stable_split import REVIEWED_SLICE


def holds_examples(split_uri: str) -> bool:
    """Whether the split's TFRecord files hold at least one example (ClassFilter may have kept none of a small slice)."""
    import tensorflow as tf

    files = tf.io.gfile.glob(os.path.join(split_uri, "*"))
    return bool(files) and any(True for _ in tf.data.TFRecordDataset(files, compression_type="GZIP").take(1))


def without_thresholds(eval_config_json: str) -> str:
    """The EvalConfig with every threshold removed and only the overall slice: reported, never gated."""
    from tensorflow_model_analysis.proto import config_pb2

    config = config_pb2.EvalConfig()
    proto_utils.json_to_proto(eval_config_json, config)
    for metrics_spec in config.metrics_specs:
        metrics_spec.ClearField("thresholds")
        metrics_spec.ClearField("per_slice_thresholds")
        metrics_spec.ClearField("cross_slice_thresholds")
        for metric in metrics_spec.metrics:
            metric.ClearField("threshold")
            metric.ClearField("per_slice_thresholds")
            metric.ClearField("cross_slice_thresholds")
    del config.slicing_specs[:]
    config.slicing_specs.add()
    return proto_utils.proto_to_json(config)


class Executor(stock_executor.Executor):

    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        if REVIEWED_SLICE not in artifact_utils.decode_split_names(examples.split_names):
            logging.info("Evaluator: no reviewed slice in these examples")
            return
        if not holds_examples(artifact_utils.get_split_uri([examples], REVIEWED_SLICE)):
            logging.info("Evaluator: the reviewed slice holds no image of the target classes; nothing to report")
            return
        evaluation = standard_artifacts.ModelEvaluation()
        evaluation.uri = os.path.join(artifact_utils.get_single_uri(output_dict[standard_component_specs.EVALUATION_KEY]),
                                      REVIEWED_SLICE_DIR)
        properties = dict(exec_properties)
        properties[standard_component_specs.EXAMPLE_SPLITS_KEY] = json.dumps([REVIEWED_SLICE])
        properties[standard_component_specs.EVAL_CONFIG_KEY] = without_thresholds(
            exec_properties[standard_component_specs.EVAL_CONFIG_KEY])
        logging.info("Evaluator: the reviewed slice, reported beside the gated split, into %s", evaluation.uri)
        super().Do(input_dict, {standard_component_specs.EVALUATION_KEY: [evaluation]}, properties)
