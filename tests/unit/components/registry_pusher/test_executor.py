"""RegistryPusher's executor on a small but real SavedModel, TFMA output and eval split."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from tensorflow_model_analysis.api.model_eval_lib import analyze_raw_data
from tensorflow_model_analysis.utils import config_util
from tfx.types import artifact_utils, standard_artifacts

from dermflow.components.artifact_types import ArtefactReport, LabelVocabulary
from dermflow.components.registry_pusher.executor import Executor, VocabularyMismatchError
from dermflow.config import DermflowConfig
from dermflow.evaluation.eval_config_builder import build_eval_config
from dermflow.isic.label_vocabulary import write_label_vocabulary
from dermflow.registry import list_versions, resolve_model
from support.tfx_artifacts import artifact_at

LABELS = ["MEL", "NV", "BCC"]
PASSED_CHECK = {
    "passed": True, "gated": True, "max_flip_rate": 0.05, "failed_kinds": [], "images": {"MEL": 1, "NV": 2, "BCC": 1},
    "reason": "artefact check passed: every artefact changes at most 5% of labels (worst: ruler 0.0%)",
    "lesion_mass_clean": 0.61, "artefacts": {"ruler": {
        "flip_rate": 0.0, "max_class_flip_rate": 0.0, "lesion_mass_after": 0.6, "passed": True,
        "per_class": {"NV": {"n": 2, "flips": 0, "flip_rate": 0.0, "flipped_to": {}}}}},
}
FAILED_CHECK = {
    **PASSED_CHECK, "passed": False, "failed_kinds": ["ruler"],
    "reason": "artefact check failed (eval.max_artefact_flip_rate 5.0%): ruler changes 50.0% of labels (NV 1/2 -> MEL 1)",
    "artefacts": {"ruler": {
        "flip_rate": 0.5, "max_class_flip_rate": 0.5, "lesion_mass_after": 0.2, "passed": False,
        "per_class": {"NV": {"n": 2, "flips": 1, "flip_rate": 0.5, "flipped_to": {"MEL": 1}}}}},
}


class _LabelEcho(tf.Module):
    """Reads each example's label and answers it with probability 0.8: a model whose output we know."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, examples):
        label = tf.io.parse_example(examples, {"label": tf.io.FixedLenFeature([], tf.int64)})["label"]
        return {"probabilities": tf.one_hot(label, 3, on_value=0.8, off_value=0.1)}


def _example(label: int, image_id: str) -> bytes:
    feature = {
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "image_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_id.encode()])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def evaluation_dir(tmp_path_factory) -> Path:
    """A TFMA output whose balanced accuracy (1/3) fails the default 0.5 floor."""
    out = tmp_path_factory.mktemp("evaluation")
    frame = pd.DataFrame({
        "label": [0, 1, 2] * 4,
        "probabilities": [np.array([0.6, 0.3, 0.1], np.float32)] * 12,
        "sex": ["male", "female"] * 6, "anatom_site_general": ["back"] * 12, "age_bucket": ["<30"] * 12,
    })
    eval_config = config_util.update_eval_config_with_defaults(
        build_eval_config(DermflowConfig(), LABELS), has_baseline=False, rubber_stamp=True
    )
    analyze_raw_data(frame, eval_config, output_path=str(out))
    return out


@pytest.fixture
def inputs(tmp_path, evaluation_dir):
    model = artifact_at(standard_artifacts.Model, tmp_path / "model")
    serving = Path(model.uri) / "Format-Serving"
    module = _LabelEcho()
    tf.saved_model.save(module, str(serving), signatures={"serving_default": module.serve})
    extra = serving / "assets.extra"
    extra.mkdir()
    (extra / "model.keras").write_bytes(b"keras zip stand-in")
    (extra / "labels.txt").write_text("\n".join(LABELS) + "\n")
    (extra / "weights_provenance.json").write_text(json.dumps({"source": "none"}))

    model_run = artifact_at(standard_artifacts.ModelRun, tmp_path / "model_run")
    (Path(model_run.uri) / "history.json").write_text(json.dumps([{"epoch": 0, "phase": 1, "loss": 1.0}]))

    examples = artifact_at(standard_artifacts.Examples, tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    (Path(examples.uri) / "Split-eval").mkdir()
    with tf.io.TFRecordWriter(str(Path(examples.uri) / "Split-eval" / "data.gz"), options="GZIP") as writer:
        for index, label in enumerate([0, 1, 2, 1]):
            writer.write(_example(label, f"ISIC_{index:07d}"))

    vocabulary = artifact_at(LabelVocabulary, tmp_path / "vocabulary")
    write_label_vocabulary(Path(vocabulary.uri), DermflowConfig().labels, counts={"eval": {"MEL": 1, "NV": 2, "BCC": 1}})
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = str(evaluation_dir)
    return {
        "model": [model], "model_run": [model_run], "examples": [examples],
        "label_vocabulary": [vocabulary], "evaluation": [evaluation],
    }


def _artefact_report(tmp_path: Path, report: dict) -> ArtefactReport:
    artifact = artifact_at(ArtefactReport, tmp_path / "artefact_report")
    (Path(artifact.uri) / "artefact_check.json").write_text(json.dumps(report))
    (Path(artifact.uri) / "examples").mkdir()
    (Path(artifact.uri) / "examples" / "ruler.png").write_bytes(b"png stand-in")
    (Path(artifact.uri) / "measurements.npz").write_bytes(b"large, stays in the pipeline root")
    artifact.set_int_custom_property("passed", int(report["passed"]))
    return artifact


def _run(inputs, tmp_path, blessed: int, artefacts: dict = PASSED_CHECK):
    cfg = DermflowConfig.model_validate({"paths": {"registry": str(tmp_path / "registry")}, "model_name": "m"})
    blessing = artifact_at(standard_artifacts.ModelBlessing, tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", blessed)
    pushed = artifact_at(standard_artifacts.PushedModel, tmp_path / "pushed")
    Executor().Do({**inputs, "model_blessing": [blessing], "artefact_report": [_artefact_report(tmp_path, artefacts)]},
                  {"pushed_model": [pushed]}, {"config_json": cfg.to_json()})
    return cfg, pushed


def test_a_blessed_model_is_published_with_metrics_history_and_eval_predictions(inputs, tmp_path):
    cfg, pushed = _run(inputs, tmp_path, blessed=1)

    version = resolve_model(cfg.paths.registry / "m")
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_version") == version.version
    assert pushed.get_string_custom_property("pushed_destination") == str(version.path)
    assert version.labels == LABELS
    metrics = version.read_json("metrics.json")
    assert metrics["overall"]["isic_balanced_accuracy"] == pytest.approx(1 / 3)
    assert set(metrics["overall"]["per_class"]) == set(LABELS)
    assert "sex=female" in metrics["slices"]
    provenance = version.read_json("provenance.json")
    assert provenance["weights"] == {"source": "none"}
    assert provenance["data"]["counts"]["eval"]["NV"] == 2
    extra = version.saved_model_dir / "assets.extra"
    assert json.loads((extra / "history.json").read_text())[0]["loss"] == 1.0
    predictions = np.load(extra / "eval_predictions.npz")
    assert predictions["labels"].tolist() == [0, 1, 2, 1]
    assert predictions["probabilities"].argmax(axis=1).tolist() == [0, 1, 2, 1]
    assert predictions["image_ids"][3] == "ISIC_0000003"
    assert metrics["artefacts"]["passed"] is True
    assert metrics["artefacts"]["per_artefact"]["ruler"]["per_class_flip_rate"] == {"NV": 0.0}
    assert json.loads((extra / "artefact_check" / "artefact_check.json").read_text())["passed"] is True
    assert (extra / "artefact_check" / "examples" / "ruler.png").is_file()
    assert not (extra / "artefact_check" / "measurements.npz").exists()


def test_an_unblessed_model_is_not_published_and_the_reason_is_recorded(inputs, tmp_path):
    cfg, pushed = _run(inputs, tmp_path, blessed=0)

    assert list_versions(cfg.paths.registry, "m") == []
    assert pushed.get_int_custom_property("pushed") == 0
    reason = json.loads((Path(pushed.uri) / "not_pushed.json").read_text())["reason"]
    assert "isic_balanced_accuracy = 0.3333 is below the minimum 0.5000" in reason


def test_a_blessed_model_that_fails_the_artefact_check_is_not_published_and_the_artefact_is_named(inputs, tmp_path):
    cfg, pushed = _run(inputs, tmp_path, blessed=1, artefacts=FAILED_CHECK)

    assert list_versions(cfg.paths.registry, "m") == []
    assert pushed.get_int_custom_property("pushed") == 0
    recorded = json.loads((Path(pushed.uri) / "not_pushed.json").read_text())
    assert recorded["reason"].startswith("not blessed: artefact check failed")
    assert "ruler changes 50.0% of labels (NV 1/2 -> MEL 1)" in recorded["reason"]
    assert recorded["artefacts"]["failed_kinds"] == ["ruler"]


def test_both_reasons_are_given_when_both_gates_fail(inputs, tmp_path):
    _, pushed = _run(inputs, tmp_path, blessed=0, artefacts=FAILED_CHECK)
    reason = json.loads((Path(pushed.uri) / "not_pushed.json").read_text())["reason"]
    assert "isic_balanced_accuracy = 0.3333" in reason and "ruler changes 50.0%" in reason


def test_a_model_trained_on_other_labels_is_refused(inputs, tmp_path):
    serving = Path(inputs["model"][0].uri) / "Format-Serving"
    (serving / "assets.extra" / "labels.txt").write_text("NV\nMEL\nBCC\n")
    with pytest.raises(VocabularyMismatchError):
        _run(inputs, tmp_path, blessed=1)
    assert list_versions(tmp_path / "registry", "m") == []
