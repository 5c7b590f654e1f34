"""ArtefactCheck's executor on a small but real exported model and eval split: files, figures, the verdict."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import tensorflow as tf
from PIL import Image
from tfx.types import artifact_utils, standard_artifacts

from dermflow.components.artefact_check.executor import Executor
from dermflow.components.artifact_types import ArtefactReport, LabelVocabulary
from dermflow.config import DermflowConfig, ModelConfig
from dermflow.imaging import encode_jpeg, encode_png
from dermflow.imaging.model_input import ImagePathSettings
from dermflow.isic.label_vocabulary import write_label_vocabulary
from dermflow.models import build_classifier, export_model
from dermflow.synthetic.archive_writer import LESION_MASKS_DIR
from dermflow.synthetic.photo_renderer import render_image
from support.synthetic_training_examples import labelled_example
from support.tfx_artifacts import artifact_at

LABELS = ["MEL", "NV", "BCC"]
SIZE = 32


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("artefact_check")
    model = artifact_at(standard_artifacts.Model, tmp / "model")
    built = build_classifier(ModelConfig(backbone="small_cnn", image_size=SIZE, weights="none"), len(LABELS))
    export_model(built, LABELS, Path(model.uri) / "Format-Serving", ImagePathSettings.from_config(DermflowConfig().data))

    masks = tmp / "archive" / LESION_MASKS_DIR
    masks.mkdir(parents=True)
    examples = artifact_at(standard_artifacts.Examples, tmp / "examples")
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    (Path(examples.uri) / "Split-eval").mkdir()
    with tf.io.TFRecordWriter(str(Path(examples.uri) / "Split-eval" / "data.gz"), options="GZIP") as writer:
        for index in range(9):
            label = index % 3
            pixels, mask = render_image(LABELS[label], image_size=64, seed=0, index=index)
            image_id = f"ISIC_{index:07d}"
            if index < 6:  # the others get Otsu's mask
                (masks / f"{image_id}.png").write_bytes(encode_png(mask.astype("uint8") * 255))
            writer.write(labelled_example(encode_jpeg(pixels, 92), label, image_id=image_id))
    vocabulary = artifact_at(LabelVocabulary, tmp / "vocabulary")
    write_label_vocabulary(Path(vocabulary.uri), DermflowConfig().labels, counts={})
    return tmp, {"model": [model], "examples": [examples], "label_vocabulary": [vocabulary]}


def _run(tmp: Path, inputs: dict, name: str, **eval_settings) -> tuple[dict, ArtefactReport]:
    cfg = DermflowConfig.model_validate({"data": {"data_root": str(tmp / "archive")}, "eval": eval_settings})
    output = artifact_at(ArtefactReport, tmp / name)
    Executor().Do(inputs, {"artefact_report": [output]}, {"config_json": cfg.to_json()})
    return json.loads((Path(output.uri) / "artefact_check.json").read_text()), output


def test_the_check_writes_figures_examples_and_its_verdict(inputs):
    tmp, channels = inputs
    report, output = _run(tmp, channels, "checked", artefact_check_images=2, artefact_kinds=["ruler", "ink", "hair"])
    assert report["images"] == {"MEL": 2, "NV": 2, "BCC": 2}
    assert set(report["artefacts"]) == {"ruler", "ink", "hair"}
    assert report["mask_sources"]["archive"] == 6
    for kind in ("ruler", "ink", "hair"):
        assert set(report["artefacts"][kind]["per_class"]) == set(LABELS)
        picture = Path(output.uri) / report["examples"][kind]["file"]
        with Image.open(picture) as image:
            assert image.size == (800, 200)
    assert output.get_int_custom_property("passed") == int(report["passed"])
    assert (Path(output.uri) / "measurements.npz").is_file()


def test_a_limit_of_one_passes_every_model_and_no_images_checks_nothing(inputs):
    tmp, channels = inputs
    report, output = _run(tmp, channels, "lenient", artefact_check_images=1, max_artefact_flip_rate=1.0,
                          artefact_kinds=["patch"])
    assert report["passed"] and output.get_int_custom_property("passed") == 1
    report, output = _run(tmp, channels, "off", artefact_check_images=0)
    assert report["passed"] and report["artefacts"] == {}
    assert "not run (eval.artefact_check_images is 0)" in report["reason"]
    assert output.get_int_custom_property("passed") == 1
