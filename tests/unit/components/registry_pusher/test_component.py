"""RegistryPusher's spec: inputs, optional inputs, output type, exec property."""
from __future__ import annotations

import pytest
from tfx import types
from tfx.types import standard_artifacts

from dermflow.components.artifact_types import ArtefactReport, LabelVocabulary
from dermflow.components.registry_pusher.component import RegistryPusher
from dermflow.config import DermflowConfig


def _channels():
    return {
        "model": types.Channel(type=standard_artifacts.Model),
        "model_blessing": types.Channel(type=standard_artifacts.ModelBlessing),
        "evaluation": types.Channel(type=standard_artifacts.ModelEvaluation),
        "label_vocabulary": types.Channel(type=LabelVocabulary),
        "artefact_report": types.Channel(type=ArtefactReport),
    }


def test_outputs_a_pushed_model_and_carries_the_config():
    cfg_json = DermflowConfig().to_json()
    pusher = RegistryPusher(config_json=cfg_json, **_channels())
    assert pusher.outputs["pushed_model"].type_name == standard_artifacts.PushedModel.TYPE_NAME
    assert pusher.exec_properties["config_json"] == cfg_json
    assert "model_run" not in pusher.inputs and "examples" not in pusher.inputs


def test_accepts_the_optional_history_and_eval_examples():
    pusher = RegistryPusher(
        config_json="{}",
        model_run=types.Channel(type=standard_artifacts.ModelRun),
        examples=types.Channel(type=standard_artifacts.Examples),
        **_channels(),
    )
    assert set(pusher.inputs) >= {"model_run", "examples", "model", "model_blessing", "evaluation", "label_vocabulary"}


def test_rejects_a_channel_of_the_wrong_type():
    channels = _channels()
    channels["model_blessing"] = types.Channel(type=standard_artifacts.Model)
    with pytest.raises(TypeError):
        RegistryPusher(config_json="{}", **channels)


def test_requires_the_artefact_check():
    channels = _channels()
    del channels["artefact_report"]
    with pytest.raises(TypeError):
        RegistryPusher(config_json="{}", **channels)
