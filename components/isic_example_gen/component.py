"""IsicExampleGen: an ISIC-layout archive -> Examples (train/eval[/test]) + an IngestReport.

    example_gen = IsicExampleGen(config_json=cfg.to_json(), previous_examples=resolver.outputs["examples"])
    example_gen.outputs["examples"], example_gen.outputs["ingest_report"]

``previous_examples`` (optional): the last Examples this component wrote in the pipeline, so the
spans it ingested with the same settings are reused (docs/ingest.md#spans).

Everything it needs comes from ``cfg.data`` (``data_root``, ``max_side``, ``jpeg_quality``,
``eval_fraction``, ``test_fraction``, ``split_seed``, ``max_missing_fraction``,
``max_image_pixels``, ``num_shards``) and ``cfg.eval.age_buckets``.
"""
from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from dermflow.components.artifact_types import IngestReport
from dermflow.components.isic_example_gen.executor import (
    CONFIG_KEY, EXAMPLES_KEY, INGEST_REPORT_KEY, PREVIOUS_EXAMPLES_KEY, Executor)


class IsicExampleGenSpec(ComponentSpec):
    PARAMETERS = {CONFIG_KEY: ExecutionParameter(type=str)}
    INPUTS = {PREVIOUS_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True)}
    OUTPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        INGEST_REPORT_KEY: ChannelParameter(type=IngestReport),
    }


class IsicExampleGen(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = IsicExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, config_json: str, previous_examples: types.BaseChannel | None = None):
        super().__init__(spec=IsicExampleGenSpec(
            config_json=config_json,
            previous_examples=previous_examples,
            examples=types.Channel(type=standard_artifacts.Examples),
            ingest_report=types.Channel(type=IngestReport),
        ))
