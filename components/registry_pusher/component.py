"""RegistryPusher: a blessed model -> ``<registry>/<model_name>/<version>/``, with LATEST moved to it.

    pusher = RegistryPusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        evaluation=evaluator.outputs["evaluation"], label_vocabulary=class_filter.outputs["label_vocabulary"],
        model_run=trainer.outputs["model_run"], examples=class_filter.outputs["filtered_examples"],
        artefact_report=artefact_check.outputs["artefact_report"], config_json=cfg.to_json())

The ``pushed_model`` output carries the stock Pusher's custom properties (``pushed`` 1/0,
``pushed_destination``, ``pushed_version``). A model that the Evaluator did not bless, or that failed
the ArtefactCheck (``artefact_report``, required), is not pushed: the output then holds
``not_pushed.json`` with the reason (the failed thresholds with their values, the failing artefacts).
``model_run`` (for ``history.json``) and ``examples`` (the eval split, scored once more for the
report's ROC curves) are optional.
"""
from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from dermflow.components.artifact_types import ArtefactReport, LabelVocabulary
from dermflow.components.registry_pusher.executor import (
    ARTEFACT_REPORT_KEY,
    CONFIG_KEY,
    EVALUATION_KEY,
    EXAMPLES_KEY,
    LABEL_VOCABULARY_KEY,
    MODEL_BLESSING_KEY,
    MODEL_KEY,
    MODEL_RUN_KEY,
    PUSHED_MODEL_KEY,
    Executor,
)


class RegistryPusherSpec(ComponentSpec):
    PARAMETERS = {CONFIG_KEY: ExecutionParameter(type=str)}
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        MODEL_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        LABEL_VOCABULARY_KEY: ChannelParameter(type=LabelVocabulary),
        ARTEFACT_REPORT_KEY: ChannelParameter(type=ArtefactReport),
        MODEL_RUN_KEY: ChannelParameter(type=standard_artifacts.ModelRun, optional=True),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel)}


class RegistryPusher(base_component.BaseComponent):
    SPEC_CLASS = RegistryPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        model_blessing: types.BaseChannel,
        evaluation: types.BaseChannel,
        label_vocabulary: types.BaseChannel,
        artefact_report: types.BaseChannel,
        config_json: str,
        model_run: Optional[types.BaseChannel] = None,
        examples: Optional[types.BaseChannel] = None,
    ):
        super().__init__(
            spec=RegistryPusherSpec(
                config_json=config_json,
                model=model,
                model_blessing=model_blessing,
                evaluation=evaluation,
                label_vocabulary=label_vocabulary,
                artefact_report=artefact_report,
                model_run=model_run,
                examples=examples,
                pushed_model=types.Channel(type=standard_artifacts.PushedModel),
            )
        )
