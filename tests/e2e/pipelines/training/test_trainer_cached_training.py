"""run_fn with the trunk-feature cache: the export is the full network and scores as its .keras file does."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from dermflow.config import load_config
from dermflow.imaging.model_input import decode_and_resize
from dermflow.models import backbone_layer_names, build_classifier, load_exported, load_keras_model
from dermflow.pipelines.training import trainer_input
from support.synthetic_training_examples import write_synthetic_splits

pytestmark = pytest.mark.e2e

SIZE = 32
CACHED = [
    f"model.image_size={SIZE}", "model.weights=imagenet", "train.preset=fast", "train.batch_size=8",
    "train.head_epochs=1", "train.fine_tune_epochs=2", "train.fine_tune_layers=14", "train.steps_per_epoch=3",
    "trust.enabled=false",  # uncalibrated signatures: their probabilities are the .keras model's own
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from dermflow.pipelines.training.trainer_module import run_fn

    tmp = tmp_path_factory.mktemp("cached_trainer")
    cfg = load_config(overrides=[*CACHED, f"paths.work_dir={tmp / 'work'}"])
    assert cfg.train.feature_cache
    splits = write_synthetic_splits(tmp / "examples", {"train": 24, "eval": 9}, cfg.labels.label_names(), SIZE)
    run_fn(FnArgs(
        train_files=[splits["train"]], eval_files=[splits["eval"]], serving_model_dir=str(tmp / "serving"),
        model_run_dir=str(tmp / "run"), custom_config={"config_json": cfg.to_json()},
    ))
    return tmp, cfg, splits


def test_cached_training_exports_the_full_network_that_scores_as_its_keras_file(trained):
    tmp, cfg, splits = trained
    serving = tmp / "serving"
    keras_model = load_keras_model(serving / "assets.extra" / "model.keras")
    fresh = build_classifier(cfg.model, len(cfg.labels.label_names()))
    assert keras_model.input_shape == (None, SIZE, SIZE, 3)
    assert backbone_layer_names(keras_model) == backbone_layer_names(fresh.model)
    # It trained: the top moved away from the ImageNet start, the frozen trunk did not.
    assert not np.allclose(keras_model.get_layer("block_16_project").get_weights()[0],
                           fresh.model.get_layer("block_16_project").get_weights()[0])
    np.testing.assert_array_equal(keras_model.get_layer("Conv1").get_weights()[0], fresh.model.get_layer("Conv1").get_weights()[0])

    records = list(trainer_input.read_records(trainer_input.expand_file_patterns([splits["eval"]])).as_numpy_iterator())
    images = [tf.io.parse_single_example(r, {"image": tf.io.FixedLenFeature([], tf.string)})["image"] for r in records]
    exported = load_exported(serving).signatures["predict_images"](images=tf.stack(images))["probabilities"].numpy()
    pixels = np.stack([decode_and_resize(image, SIZE).numpy() for image in images])
    np.testing.assert_allclose(exported, keras_model.predict(pixels, verbose=0), rtol=1e-4, atol=1e-5)


def test_cached_history_has_every_epoch_of_both_phases(trained):
    tmp, _, _ = trained
    history = json.loads((tmp / "run" / "history.json").read_text())
    assert [(row["epoch"], row["phase"]) for row in history] == [(0, 1), (1, 2), (2, 2)]
    assert all(row["train_images"] == 3 * 8 and 0.0 <= row["val_balanced_accuracy"] <= 1.0 for row in history)
