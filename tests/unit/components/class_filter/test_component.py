from tfx import types
from tfx.types import standard_artifacts

from dermflow.components.artifact_types import LabelVocabulary
from dermflow.components.class_filter.component import ClassFilter
from dermflow.config import DermflowConfig, load_config


def test_inputs_outputs_and_config_property():
    examples = types.Channel(type=standard_artifacts.Examples)
    component = ClassFilter(examples=examples, config_json=load_config(overrides=["labels.preset=binary"]).to_json())
    assert component.inputs["examples"] is examples
    assert component.outputs["filtered_examples"].type is standard_artifacts.Examples
    assert component.outputs["label_vocabulary"].type is LabelVocabulary
    assert LabelVocabulary.TYPE_NAME == "dermflow.LabelVocabulary"
    labels = DermflowConfig.from_json(component.exec_properties["config_json"]).labels
    assert labels.label_names() == ["malignant", "benign"]
