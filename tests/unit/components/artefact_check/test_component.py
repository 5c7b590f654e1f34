"""ArtefactCheck's spec: its inputs, its output type, the config it carries; the pipeline wires it to the pusher."""
from __future__ import annotations

import pytest
from tfx import types
from tfx.types import standard_artifacts

from dermflow.components.artefact_check.component import ArtefactCheck
from dermflow.components.artifact_types import ArtefactReport, LabelVocabulary
from dermflow.config import DermflowConfig


def _channels():
    return {
        "model": types.Channel(type=standard_artifacts.Model),
        "examples": types.Channel(type=standard_artifacts.Examples),
        "label_vocabulary": types.Channel(type=LabelVocabulary),
    }


def test_outputs_an_artefact_report_and_carries_the_config():
    cfg_json = DermflowConfig().to_json()
    check = ArtefactCheck(config_json=cfg_json, **_channels())
    assert check.outputs["artefact_report"].type_name == ArtefactReport.TYPE_NAME == "dermflow.ArtefactReport"
    assert check.exec_properties["config_json"] == cfg_json
    assert set(check.inputs) == {"model", "examples", "label_vocabulary"}


def test_rejects_a_channel_of_the_wrong_type():
    channels = _channels()
    channels["examples"] = types.Channel(type=standard_artifacts.Model)
    with pytest.raises(TypeError):
        ArtefactCheck(config_json="{}", **channels)


def test_the_training_pipeline_puts_it_between_the_trainer_and_the_pusher():
    from dermflow.pipelines.training.training_pipeline import NODE_IDS, create_pipeline

    pipeline = create_pipeline(DermflowConfig.model_validate({"paths": {"work_dir": "/tmp/dermflow-unit-artefacts"}}))
    nodes = {node.id: node for node in pipeline.components}
    assert set(NODE_IDS) == set(nodes)
    check, pusher = nodes["ArtefactCheck"], nodes["RegistryPusher"]
    assert check.inputs["model"].producer_component_id == "Trainer"
    assert pusher.inputs["artefact_report"].producer_component_id == "ArtefactCheck"
