from tfx.types import standard_artifacts

from dermflow.components.artifact_types import IngestReport
from dermflow.components.isic_example_gen.component import IsicExampleGen
from dermflow.config import DermflowConfig, load_config


def test_outputs_and_config_property():
    cfg = load_config(overrides=["data.data_root=/data/isic", "data.max_side=256"])
    component = IsicExampleGen(config_json=cfg.to_json())
    assert component.outputs["examples"].type is standard_artifacts.Examples
    assert component.outputs["ingest_report"].type is IngestReport
    assert IngestReport.TYPE_NAME == "dermflow.IngestReport"
    restored = DermflowConfig.from_json(component.exec_properties["config_json"])
    assert restored.data.max_side == 256 and str(restored.data.data_root) == "/data/isic"
    assert component.inputs == {}
