"""Every labels preset and every backbone, trained by the whole pipeline and scored, at tiny size (issue 30 item 0).

One small synthetic archive of all eight diagnoses, shared; one ``run_training`` per labels preset, each
with another backbone, one epoch per phase, no ImageNet weights (inception_v3's and vgg19's files are
not installed), so that each configuration a seed of the continuous training can take is guarded:

| labels | backbone | other diagnoses beside the splits |
|---|---|---|
| ``mel_nv_bcc`` | inception_v3 (75 px, its smallest) | AK, BKL, DF, VASC, SCC: abstention outputs |
| ``binary`` (malignant / benign) | vgg19 | none: every diagnosis is a target (empty OutOfScope files) |
| ``all8`` | mobilenet_v2 | none (``all8`` crashed here before issue 30) |
| a custom group | small_cnn | BKL, DF, VASC: abstention outputs |

Each pushed model then scores a few of the archive's files through ``LesionPredictor`` (the one
predictor batch scoring and the web server call): target probabilities summing to 1 in the model's
label order, and ``other_diagnosis_probability`` exactly when the model has abstention outputs.
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

ARCHIVE_SIZE = 80
CUSTOM_GROUPS = {"melanocytic": ["MEL", "NV"], "keratinocytic": ["BCC", "SCC", "AK"]}
RUNS = {  # name: labels, backbone, image size, the abstention outputs expected
    "mel_nv_bcc": ({"preset": "mel_nv_bcc"}, "inception_v3", 75, ["AK", "BKL", "DF", "VASC", "SCC"]),
    "binary": ({"preset": "binary"}, "vgg19", 32, []),
    "all8": ({"preset": "all8"}, "mobilenet_v2", 32, []),
    "custom": ({"preset": "custom", "mode": "groups", "groups": CUSTOM_GROUPS, "positive_label": "keratinocytic"},
               "small_cnn", 32, ["BKL", "DF", "VASC"]),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("presets") / "archive"
    write_archive(root, n=160, seed=5, image_size=ARCHIVE_SIZE)
    return root


def _config(archive: Path, work: Path, labels: dict, backbone: str, size: int) -> DermflowConfig:
    return DermflowConfig.model_validate({
        "model_name": f"preset_{backbone}",
        "data": {"data_root": str(archive)},  # the default lesion-grouped train / eval / test split
        "labels": labels,
        "model": {"backbone": backbone, "image_size": size, "weights": "none", "alpha": 0.35},
        "train": {"preset": "custom", "head_epochs": 1, "fine_tune_epochs": 1, "batch_size": 32,
                  "augment_rotation": 0.0, "augment_zoom": 0.0, "augment_color": 0.0},
        "eval": {"min_balanced_accuracy": 0.0},
        "beam": {"direct_running_mode": "in_memory", "direct_num_workers": 1},
        "paths": {"work_dir": str(work / "work"), "registry": str(work / "registry")},
    })


@pytest.fixture(scope="module", params=list(RUNS))
def trained(request, archive, tmp_path_factory):
    labels, backbone, size, codes = RUNS[request.param]
    cfg = _config(archive, tmp_path_factory.mktemp(request.param), labels, backbone, size)
    return request.param, cfg, codes, run_training(cfg)


def test_the_pipeline_trains_pushes_and_the_model_scores(trained, archive):
    from dermflow.inference.lesion_predictor import LesionPredictor

    name, cfg, codes, result = trained
    assert result["states"] == {node_id: "COMPLETE" for node_id in NODE_IDS}, name
    assert result["pushed"], result["reason"]
    version = resolve_model(result["model_dir"])
    assert version.labels == cfg.labels.label_names()
    calibration = version.read_json("calibration.json")
    assert calibration["abstention"]["codes"] == codes and calibration["fit"]["fitted"]
    assert calibration["out_of_scope"]["signals"] == (["novelty", "memory"] if codes else ["novelty"])

    predictor = LesionPredictor.load(version.saved_model_dir, max_pixels=cfg.score.max_image_pixels)
    files = sorted((archive / cfg.data.images_dir).glob("*.jpg"))[:4]
    predictions = predictor.predict([predictor.prepare(path.read_bytes()).data for path in files])
    for prediction in predictions:
        assert prediction.probabilities.shape == (len(version.labels),)
        assert float(np.sum(prediction.probabilities)) == pytest.approx(1.0, abs=1e-5)
        assert prediction.predicted_label in version.labels
        assert (prediction.other_diagnosis_probability is not None) == bool(codes)
        assert prediction.in_scope_score is not None and prediction.out_of_scope is not None
