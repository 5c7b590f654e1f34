"""TFX's Evaluator, which also reports the reviewed slice beside the split it gates on.

    evaluator = EvaluatorWithReviewedSlice(examples=..., model=..., baseline_model=..., schema=...,
                                           eval_config=build_eval_config(cfg, labels), example_splits=["test"])

The same spec, inputs, outputs and blessing as ``tfx.components.Evaluator`` (the blessing comes from
``example_splits`` alone); ``executor.Executor`` adds ``<evaluation>/reviewed_slice/`` when the
examples hold the ``reviewed`` split.
"""
from __future__ import annotations

from tfx.components import Evaluator
from tfx.dsl.components.base import executor_spec

from dermflow.components.reviewed_slice_evaluator.executor import Executor


class EvaluatorWithReviewedSlice(Evaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
