"""The whole training pipeline on a small synthetic archive, twice: an easy gate, then one that cannot be met.

Settings are small (the default MobileNetV2 with its ImageNet weights at 96 px, a few epochs) so the
two runs fit in a few minutes on 2 CPU cores. A network trained from scratch at these sizes learns
where the lesion is only now and then (small_cnn: 14 to 27 of 32 heatmaps hotter inside the lesion
from run to run); the pretrained one does it every time (62 of 64 in the demo's model).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dermflow.config import DermflowConfig
from dermflow.imaging.model_input import decode_and_resize_batch
from dermflow.models import load_keras_model
from dermflow.pipelines.training.training_pipeline import NODE_IDS, run_training
from dermflow.registry import LATEST, list_versions, resolve_model
from dermflow.synthetic.archive_writer import LESION_MASKS_DIR, write_archive

pytestmark = pytest.mark.e2e

IMAGE_SIZE = 96
REGISTRY_FILES = ("saved_model", "model.keras", "labels.txt", "metrics.json", "provenance.json", "config.json")


def _config(root: Path, **sections) -> DermflowConfig:
    data = {
        "model_name": "tiny",
        "data": {"data_root": str(root / "archive")},
        "model": {"backbone": "mobilenet_v2", "alpha": 1.0, "image_size": IMAGE_SIZE, "weights": "imagenet"},
        "train": {"head_epochs": 3, "fine_tune_epochs": 1, "fine_tune_layers": 10, "batch_size": 32,
                  "early_stopping_patience": 3},
        "eval": {"min_balanced_accuracy": 0.0, "max_artefact_flip_rate": None, "artefact_check_images": 10},
        "trust": {"abstention": "hod"},  # the abstention outputs through the whole pipeline (the default is none)
        "beam": {"direct_running_mode": "multi_processing", "direct_num_workers": 2},  # the default runner mode
        "paths": {"work_dir": str(root / "work"), "registry": str(root / "registry")},
    }
    for section, values in sections.items():
        data[section] = {**data[section], **values}
    return DermflowConfig.model_validate(data)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("training")
    write_archive(root / "archive", n=160, seed=3, image_size=IMAGE_SIZE)
    return root


@pytest.fixture(scope="module")
def easy_run(root, imagenet_weights) -> dict:
    return run_training(_config(root))


@pytest.fixture(scope="module")
def impossible_run(root, easy_run) -> dict:
    """An untrained model against a perfect-score floor, after a model was already blessed."""
    cfg = _config(root, train={"head_epochs": 0, "fine_tune_epochs": 0, "warm_start": "none"},
                  eval={"min_balanced_accuracy": 1.0})
    return run_training(cfg)


@pytest.fixture(scope="module")
def sample_images(root) -> tuple[list[bytes], list[np.ndarray]]:
    images = sorted((root / "archive" / "ISIC_2019_Training_Input").glob("*.jpg"))[:32]
    masks = [np.asarray(Image.open(root / "archive" / LESION_MASKS_DIR / f"{path.stem}.png").convert("L")) > 127 for path in images]
    return [path.read_bytes() for path in images], masks


def test_every_component_succeeds_and_the_model_is_pushed(easy_run, root):
    assert easy_run["states"] == {node_id: "COMPLETE" for node_id in NODE_IDS}
    assert easy_run["blessed"] and easy_run["pushed"]
    version = resolve_model(root / "registry")
    assert version.version == easy_run["version"] and str(version.path) == easy_run["model_dir"]
    assert (root / "registry" / "tiny" / LATEST).read_text().strip() == easy_run["version"]
    assert all((version.path / name).exists() for name in REGISTRY_FILES)
    assert version.labels == ["MEL", "NV", "BCC"]
    assert version.read_json("metrics.json")["overall"]["isic_balanced_accuracy"] == pytest.approx(
        easy_run["metrics"]["isic_balanced_accuracy"])
    assert Path(easy_run["report"]).is_file()
    artefacts = version.read_json("metrics.json")["artefacts"]
    assert artefacts["passed"] and not artefacts["gated"] and set(artefacts["per_artefact"]) == {
        "ruler", "ink", "dark_corners", "gel_bubbles", "hair", "patch"}
    assert easy_run["artefacts"] == artefacts and "artefact check: measured, not gated" in easy_run["reason"]
    assert (version.saved_model_dir / "assets.extra" / "artefact_check" / "examples" / "ruler.png").is_file()
    assert "Artefacts: does the answer change" in Path(easy_run["report"]).read_text()


def test_the_pushed_signatures_give_probabilities_that_agree_with_the_keras_model(easy_run, sample_images):
    version = resolve_model(easy_run["model_dir"])
    loaded = tf.saved_model.load(str(version.saved_model_dir))
    images = tf.constant(sample_images[0][:8])

    predicted = loaded.signatures["predict_images"](images=images)
    with_cam = loaded.signatures["gradcam_images"](images=images)

    np.testing.assert_allclose(predicted["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(with_cam["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-4)
    keras_model = load_keras_model(version.keras_file)
    # The Keras model also has the abstention outputs (trust.abstention: hod, set above); the signatures report the targets.
    outputs = keras_model(decode_and_resize_batch(images, IMAGE_SIZE), training=False).numpy()
    codes = version.read_json("calibration.json")["abstention"]["codes"]
    assert codes and set(codes) <= {"AK", "BKL", "DF", "VASC", "SCC"} and outputs.shape[1] == 3 + len(codes)
    keras_classes = outputs[:, :3].argmax(axis=1)
    assert "other_diagnosis_probability" in predicted and "other_diagnosis_probability" in with_cam
    assert predicted["predicted_index"].numpy().tolist() == keras_classes.tolist()
    assert with_cam["predicted_index"].numpy().tolist() == keras_classes.tolist()


def test_gradcam_of_the_pushed_model_is_hotter_inside_the_lesion(easy_run, sample_images):
    images, masks = sample_images
    loaded = tf.saved_model.load(str(resolve_model(easy_run["model_dir"]).saved_model_dir))
    heatmaps = loaded.signatures["gradcam_images"](images=tf.constant(images))["gradcam"].numpy()

    hotter_inside = 0
    for heatmap, mask in zip(heatmaps, masks):
        cam = np.asarray(Image.fromarray(heatmap.astype(np.float32)).resize(mask.shape[::-1], Image.BILINEAR))
        if mask.any() and (~mask).any() and cam[mask].mean() > cam[~mask].mean():
            hotter_inside += 1
    assert hotter_inside > 0.5 * len(images), f"only {hotter_inside}/{len(images)} heatmaps are hotter inside the lesion"


def test_a_gate_that_cannot_be_met_pushes_nothing_and_says_why(impossible_run, easy_run, root):
    assert not impossible_run["blessed"] and not impossible_run["pushed"]
    assert impossible_run["states"]["RegistryPusher"] == "COMPLETE"
    assert impossible_run["version"] is None
    assert list_versions(root / "registry", "tiny") == [easy_run["version"]]
    assert (root / "registry" / "tiny" / LATEST).read_text().strip() == easy_run["version"]
    assert "isic_balanced_accuracy" in impossible_run["reason"]
    assert "below the minimum 1.0000" in impossible_run["reason"]
