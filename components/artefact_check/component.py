"""ArtefactCheck: does the model's answer change when a ruler, ink or a patch is pasted beside the lesion?

    artefact_check = ArtefactCheck(
        model=trainer.outputs["model"], examples=class_filter.outputs["filtered_examples"],
        label_vocabulary=class_filter.outputs["label_vocabulary"], config_json=cfg.to_json())
    pusher = RegistryPusher(..., artefact_report=artefact_check.outputs["artefact_report"])

It pastes each of ``eval.artefact_kinds`` onto the first ``eval.artefact_check_images`` eval-split
images of each class, through the one image path, scores them with the exported model
(``dermflow.evaluation.artefact_check``) and writes ``artefact_check.json`` (figures per artefact
and class, the gate's verdict), ``measurements.npz`` and ``examples/<kind>.png`` (before and after,
with their Grad-CAMs). The ``artefact_report`` output's custom property ``passed`` is 1 when no
artefact changes more than ``eval.max_artefact_flip_rate`` of the labels (or the gate is off); the
RegistryPusher pushes only then.
"""
from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from dermflow.components.artefact_check.executor import (
    ARTEFACT_REPORT_KEY,
    CONFIG_KEY,
    EXAMPLES_KEY,
    LABEL_VOCABULARY_KEY,
    MODEL_KEY,
    Executor,
)
from dermflow.components.artifact_types import ArtefactReport, LabelVocabulary


class ArtefactCheckSpec(ComponentSpec):
    PARAMETERS = {CONFIG_KEY: ExecutionParameter(type=str)}
    INPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        LABEL_VOCABULARY_KEY: ChannelParameter(type=LabelVocabulary),
    }
    OUTPUTS = {ARTEFACT_REPORT_KEY: ChannelParameter(type=ArtefactReport)}


class ArtefactCheck(base_component.BaseComponent):
    SPEC_CLASS = ArtefactCheckSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, examples: types.BaseChannel, label_vocabulary: types.BaseChannel,
                 config_json: str):
        super().__init__(spec=ArtefactCheckSpec(
            config_json=config_json, model=model, examples=examples, label_vocabulary=label_vocabulary,
            artefact_report=types.Channel(type=ArtefactReport),
        ))
