"""ClassFilter: keeps the target diagnoses (``cfg.labels``), adds ``label`` (int64) + ``label_name``.

    class_filter = ClassFilter(examples=example_gen.outputs["examples"], config_json=cfg.to_json())
    class_filter.outputs["filtered_examples"], class_filter.outputs["label_vocabulary"]

Modes come from ``cfg.labels``: classes (default MEL, NV, BCC), groups (e.g. ``labels.preset=binary``:
malignant vs benign), or all eight (``labels.preset=all8``).
"""
from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from dermflow.components.artifact_types import LabelVocabulary
from dermflow.components.class_filter.executor import (
    CONFIG_KEY, EXAMPLES_KEY, FILTERED_EXAMPLES_KEY, LABEL_VOCABULARY_KEY, Executor)


class ClassFilterSpec(ComponentSpec):
    PARAMETERS = {CONFIG_KEY: ExecutionParameter(type=str)}
    INPUTS = {EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {
        FILTERED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        LABEL_VOCABULARY_KEY: ChannelParameter(type=LabelVocabulary),
    }


class ClassFilter(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = ClassFilterSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: types.BaseChannel, config_json: str):
        super().__init__(spec=ClassFilterSpec(
            config_json=config_json,
            examples=examples,
            filtered_examples=types.Channel(type=standard_artifacts.Examples),
            label_vocabulary=types.Channel(type=LabelVocabulary),
        ))
