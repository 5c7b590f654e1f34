"""Every labels preset and every backbone, trained and scored at tiny size (issue 30 item 0).

The whole pipeline where it matters (ClassFilter and the Evaluator see the labels): one small
synthetic archive of all eight diagnoses, shared; one ``run_training`` per labels preset, each with
another backbone, one epoch per phase, no ImageNet weights (inception_v3's and vgg19's files are not
installed):

| labels | backbone | other diagnoses beside the splits |
|---|---|---|
| ``binary`` (malignant / benign) | vgg19 | none: every diagnosis is a target (empty OutOfScope files) |
| ``all8`` | mobilenet_v2 | none (``all8`` crashed at the end of training before issue 30) |
| a custom group | small_cnn | BKL, DF, VASC: abstention outputs |

``mel_nv_bcc`` (the default) runs the whole pipeline in test_training_pipeline.py (mobilenet_v2
with its ImageNet weights, abstention outputs for the other five). inception_v3, whose smallest input
is 75 px and which is the slowest of the four, runs the Trainer's ``run_fn`` alone on a few examples.
Each model then scores a few images through ``LesionPredictor`` (the one predictor batch scoring and
the web server call): target probabilities summing to 1 in the model's label order, and
``other_diagnosis_probability`` exactly when the model has abstention outputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dermflow.config import DermflowConfig
from dermflow.pipelines.training.training_pipeline import NODE_IDS, run_training
from dermflow.registry import resolve_model
from dermflow.synthetic.archive_writer import write_archive

pytestmark = pytest.mark.e2e

ARCHIVE_SIZE = 48
CUSTOM_GROUPS = {"melanocytic": ["MEL", "NV"], "keratinocytic": ["BCC", "SCC", "AK"]}
RUNS = {  # name: labels, backbone, image size, the abstention outputs expected
    "binary": ({"preset": "binary"}, "vgg19", 32, []),
    "all8": ({"preset": "all8"}, "mobilenet_v2", 32, []),
    "custom": ({"preset": "custom", "mode": "groups", "groups": CUSTOM_GROUPS, "positive_label": "keratinocytic"},
               "small_cnn", 32, ["BKL", "DF", "VASC"]),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("presets") / "archive"
    write_archive(root, n=120, seed=5, image_size=ARCHIVE_SIZE)
    return root


def _config(archive: Path, work: Path, labels: dict, backbone: str, size: int) -> DermflowConfig:
    return DermflowConfig.model_validate({
        "model_name": f"preset_{backbone}",
        "data": {"data_root": str(archive)},  # the default lesion-grouped train / eval / test split
        "labels": labels,
        "model": {"backbone": backbone, "image_size": size, "weights": "none", "alpha": 0.35},
        "train": {"preset": "custom", "head_epochs": 1, "fine_tune_epochs": 1, "batch_size": 32,
                  "augment_rotation": 0.0, "augment_zoom": 0.0, "augment_color": 0.0},
        # A model trained for seconds on a tiny archive reads its artefacts as much as anything: measured, not gated.
        "eval": {"min_balanced_accuracy": 0.0, "max_artefact_flip_rate": None, "artefact_check_images": 8},
        "trust": {"abstention": "hod"},  # every preset with the abstention outputs its labels leave (default: none)
        "beam": {"direct_running_mode": "in_memory", "direct_num_workers": 1},
        "paths": {"work_dir": str(work / "work"), "registry": str(work / "registry")},
    })


@pytest.fixture(scope="module", params=list(RUNS))
def trained(request, archive, tmp_path_factory):
    labels, backbone, size, codes = RUNS[request.param]
    cfg = _config(archive, tmp_path_factory.mktemp(request.param), labels, backbone, size)
    return request.param, cfg, codes, run_training(cfg)


def _scores(saved_model_dir, images: list[bytes], labels: list[str], has_abstention: bool, max_pixels: int) -> None:
    from dermflow.inference.lesion_predictor import LesionPredictor

    predictor = LesionPredictor.load(saved_model_dir, max_pixels=max_pixels)
    for prediction in predictor.predict([predictor.prepare(image).data for image in images]):
        assert prediction.probabilities.shape == (len(labels),)
        assert float(np.sum(prediction.probabilities)) == pytest.approx(1.0, abs=1e-5)
        assert prediction.predicted_label in labels
        assert (prediction.other_diagnosis_probability is not None) == has_abstention
        assert prediction.in_scope_score is not None and prediction.out_of_scope is not None


def test_the_pipeline_trains_pushes_and_the_model_scores(trained, archive):
    name, cfg, codes, result = trained
    assert result["states"] == {node_id: "COMPLETE" for node_id in NODE_IDS}, name
    assert result["pushed"], result["reason"]
    version = resolve_model(result["model_dir"])
    assert version.labels == cfg.labels.label_names()
    calibration = version.read_json("calibration.json")
    assert calibration["abstention"]["codes"] == codes and calibration["fit"]["fitted"]
    assert calibration["out_of_scope"]["signals"] == (["novelty", "memory"] if codes else ["novelty"])

    files = sorted((archive / cfg.data.images_dir).glob("*.jpg"))[:4]
    _scores(version.saved_model_dir, [path.read_bytes() for path in files], version.labels, bool(codes),
            cfg.score.max_image_pixels)


def test_inception_v3_trains_with_abstention_outputs_and_scores(tmp_path):
    from tfx.components.trainer.fn_args_utils import FnArgs

    from dermflow.config import load_config
    from dermflow.pipelines.training.trainer_module import run_fn
    from dermflow.models.export_layout import read_export_calibration
    from support.synthetic_training_examples import write_synthetic_out_of_scope, write_synthetic_splits

    cfg = load_config(overrides=["model.backbone=inception_v3", "model.weights=none", "model.image_size=75",
                                 "train.preset=custom", "train.head_epochs=1", "train.fine_tune_epochs=1",
                                 "train.batch_size=16", "train.augment_rotation=0", "train.augment_zoom=0",
                                 "train.augment_color=0", "trust.abstention=hod", f"paths.work_dir={tmp_path / 'work'}"])
    splits = write_synthetic_splits(tmp_path / "examples", {"train": 24, "eval": 9}, cfg.labels.label_names(), 75)
    write_synthetic_out_of_scope(tmp_path / "examples", {"train": {"BKL": 4, "SCC": 3}}, 75)
    run_fn(FnArgs(train_files=[splits["train"]], eval_files=[splits["eval"]], serving_model_dir=str(tmp_path / "serving"),
                  model_run_dir=str(tmp_path / "run"), custom_config={"config_json": cfg.to_json()}))
    assert read_export_calibration(tmp_path / "serving")["abstention"]["codes"] == ["BKL", "SCC"]
    images = [example for example in _images(splits["eval"])][:3]
    _scores(tmp_path / "serving", images, cfg.labels.label_names(), True, cfg.score.max_image_pixels)


def _images(pattern: str) -> list[bytes]:
    import tensorflow as tf

    records = tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern)), compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()).features.feature["image"].bytes_list.value[0]
            for record in records]
