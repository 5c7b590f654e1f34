"""run_fn as TFX's Trainer calls it, on a few tiny synthetic examples (one epoch per phase, weights averaged).

Without other diagnoses beside the splits the model has the targets alone (a logged note); with them
(``trust.abstention: hod``, set here; the default is none) one abstention output each, and the exported signatures
return the target probabilities and ``other_diagnosis_probability``, the decision numpy computes.
"""
from __future__ import annotations

import json
import logging

import numpy as np
import tensorflow as tf

import pytest
from tfx.components.trainer.fn_args_utils import FnArgs

from dermflow.config import DermflowConfig, load_config
from dermflow.pipelines.training.trainer_module import run_fn
from dermflow.pipelines.training.trainer_progress import CHECKPOINTS_FOLDER
from support.synthetic_training_examples import write_synthetic_out_of_scope, write_synthetic_splits

pytestmark = pytest.mark.e2e


def _tiny_config(work_dir, *overrides: str) -> DermflowConfig:
    return load_config(overrides=[
        "model.image_size=32", "model.alpha=0.35", "model.weights=none",
        "train.batch_size=16", "train.head_epochs=1", "train.fine_tune_epochs=1", "train.fine_tune_layers=10",
        "train.weight_averaging=ema", f"paths.work_dir={work_dir}", *overrides,
    ])


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _run_logged(fn_args) -> list[str]:
    handler, root = _Records(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        run_fn(fn_args)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return handler.messages


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trainer")
    cfg = _tiny_config(tmp / "work", "trust.abstention=hod")
    splits = write_synthetic_splits(tmp / "examples", {"train": 48, "eval": 12}, cfg.labels.label_names(), 32)
    fn_args = FnArgs(
        train_files=[splits["train"]], eval_files=[splits["eval"]],
        serving_model_dir=str(tmp / "serving"), model_run_dir=str(tmp / "run"),
        custom_config={"config_json": cfg.to_json()},
    )
    return tmp, cfg, _run_logged(fn_args)


def test_export_has_the_saved_model_and_its_extra_assets(trained):
    tmp, cfg, _ = trained
    serving = tmp / "serving"
    assert (serving / "saved_model.pb").is_file()
    assert (serving / "assets.extra" / "model.keras").is_file()
    assert (serving / "assets.extra" / "labels.txt").read_text().split() == cfg.labels.label_names()
    assert json.loads((serving / "assets.extra" / "weights_provenance.json").read_text())


def test_history_has_one_row_per_epoch_of_both_phases(trained):
    tmp, _, _ = trained
    history = json.loads((tmp / "run" / "history.json").read_text())
    assert [(row["epoch"], row["phase"]) for row in history] == [(0, 1), (1, 2)]
    for row in history:
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "val_balanced_accuracy"):
            assert isinstance(row[key], float), key
        assert 0.0 <= row["val_balanced_accuracy"] <= 1.0
        assert row["train_images"] == 3 * 16 and row["train_seconds"] > 0


def test_tensorboard_events_are_written(trained):
    tmp, _, _ = trained
    assert list((tmp / "run").rglob("events.out.tfevents.*"))


def test_checkpoints_are_removed_after_export(trained):
    tmp, _, _ = trained
    assert not any((tmp / "work" / CHECKPOINTS_FOLDER).iterdir())


def test_trust_values_are_fitted_on_the_eval_split_when_there_is_no_test_split(trained):
    tmp, _, messages = trained
    calibration = json.loads((tmp / "serving" / "assets.extra" / "calibration.json").read_text())
    assert calibration["shared_split"] is True
    assert calibration["fit"]["fitted"] is True and calibration["fit"]["split"] == "eval"
    assert calibration["fit"]["sizes"] == {"held_out": 12, "part_a": 6, "part_b": 6, "others": 0}
    assert calibration["temperature"] > 0
    assert calibration["out_of_scope"]["signals"] == ["novelty"]  # no OutOfScope folder: no memory
    assert any("no test split" in message for message in messages)
    # Item 6: 6 part-B images cannot keep 95%; the flag falls back, and the log says so in one line.
    flag = calibration["out_of_scope"]["flag"]
    assert flag["status"] == "beyond_every_held_out_image" and (flag["held_out_in_scope"], flag["needed"]) == (6, 19)
    assert any("cannot keep 95% of in-scope images: part B holds 6 of the 12" in message and "needs 19" in message
               for message in messages)


def test_an_archive_without_other_diagnoses_trains_the_targets_alone_with_a_note(trained):
    tmp, _, messages = trained
    calibration = json.loads((tmp / "serving" / "assets.extra" / "calibration.json").read_text())
    assert calibration["abstention"]["method"] == "none" and calibration["abstention"]["setting"] == "hod"
    assert calibration["abstention"]["codes"] == [] and "note" in calibration["abstention"]
    assert any("no other diagnosis lies beside the train split" in message for message in messages)
    outputs = tf.saved_model.load(str(tmp / "serving")).signatures["predict_images"](images=tf.constant([_jpeg()]))
    assert "other_diagnosis_probability" not in outputs and outputs["probabilities"].shape == (1, 3)


def _jpeg() -> bytes:
    from dermflow.imaging import encode_jpeg

    return encode_jpeg(np.full((32, 32, 3), 120, np.uint8), quality=90)


@pytest.fixture(scope="module")
def trained_with_test_split(tmp_path_factory):
    """Train/eval/test splits plus the other diagnoses ClassFilter keeps beside train, eval and test."""
    tmp = tmp_path_factory.mktemp("trainer_test_split")
    # small_cnn: features that differ from image to image after one epoch (a random MobileNetV2's barely do), so
    # the numpy / SavedModel parity below compares distances, not float32 rounding.
    cfg = _tiny_config(tmp / "work", "model.backbone=small_cnn", "trust.abstention=hod")
    splits = write_synthetic_splits(tmp / "examples", {"train": 48, "eval": 12, "test": 40}, cfg.labels.label_names(), 32)
    write_synthetic_out_of_scope(tmp / "examples", {"train": {"BKL": 10, "DF": 6}, "test": {"BKL": 6, "DF": 4},
                                                    "eval": {"BKL": 3, "AK": 2}}, 32)
    fn_args = FnArgs(
        train_files=[splits["train"]], eval_files=[splits["eval"]],
        serving_model_dir=str(tmp / "serving"), model_run_dir=str(tmp / "run"),
        custom_config={"config_json": cfg.to_json()},
    )
    run_fn(fn_args)
    return tmp, cfg, splits


def test_the_drift_baseline_is_the_test_split_through_scorings_predictor(trained_with_test_split):
    from dermflow.monitoring.drift_baseline import read_drift_baseline

    tmp, _, _ = trained_with_test_split
    baseline = read_drift_baseline(tmp / "serving")
    # Part B of the 40 held-out test images: part A fitted the temperature and the class means.
    assert (baseline.split, baseline.images) == ("test", 20) and baseline.note.startswith("part B, 20 of 40:")
    rows = baseline.table.to_pylist()
    assert {row["predicted_label"] for row in rows} <= {"MEL", "NV", "BCC"}
    assert all(0 < row["mean_brightness"] < 255 and 0 < row["predicted_probability"] <= 1 for row in rows)
    assert all(row["prediction_set_size"] >= 0 and row["out_of_scope"] in (True, False) for row in rows)
    assert {row["width"] for row in rows} == {None}  # these examples carry no source size (ingest's do)


def test_without_a_test_split_the_drift_baseline_is_the_eval_split_and_says_so(trained):
    from dermflow.monitoring.drift_baseline import read_drift_baseline

    tmp, _, _ = trained
    baseline = read_drift_baseline(tmp / "serving")
    assert (baseline.split, baseline.images) == ("eval", 6)  # part B: the trust values were fitted on eval too
    assert "without a test split" in baseline.note and baseline.note.startswith("part B, 6 of 12:")


def test_the_model_gets_one_abstention_output_per_other_diagnosis_beside_the_train_split(trained_with_test_split):
    tmp, _, _ = trained_with_test_split
    calibration = json.loads((tmp / "serving" / "assets.extra" / "calibration.json").read_text())
    assert calibration["abstention"] == {"method": "hod", "setting": "hod", "codes": ["BKL", "DF"],
                                         "train_images": {"BKL": 10, "DF": 6}, "coarse_weight": 1.0}
    assert calibration["shared_split"] is False and calibration["fit"]["split"] == "test"
    assert calibration["fit"]["sizes"] == {"held_out": 40, "part_a": 20, "part_b": 20, "others": 10}
    assert calibration["out_of_scope"]["signals"] == ["novelty", "memory"]
    assert calibration["out_of_scope"]["flag"]["status"] == "retention"  # 20 part-B images: enough for 95%
    evaluation = calibration["evaluation"]["out_of_scope"]  # the eval split's other diagnoses vs its targets
    assert (evaluation["targets"], evaluation["others"]) == (12, 5)
    assert set(evaluation["per_class"]) == {"AK", "BKL"} and 0.0 <= evaluation["auroc_memory"] <= 1.0
    assert (tmp / "serving" / "assets.extra" / "labels.txt").read_text().split() == ["MEL", "NV", "BCC"]


def test_the_signatures_return_target_probabilities_and_the_numpy_decision(trained_with_test_split):
    """The SavedModel against TrustParameters refitted in numpy on the same held-out outputs (model.keras)."""
    from dermflow.models import load_keras_model
    from dermflow.pipelines.training.trainer_calibration import read_head_outputs
    from dermflow.trust import fit_trust, other_diagnosis_probability

    tmp, cfg, splits = trained_with_test_split
    model = load_keras_model(tmp / "serving" / "assets.extra" / "model.keras")
    assert model.output_shape[-1] == 5  # 3 targets + BKL + DF
    test = read_head_outputs(model, [splits["test"]], batch_size=16)
    others = read_head_outputs(model, [splits["test"].replace("Split-test", "OutOfScope/Split-test")], batch_size=16)
    trust = fit_trust(test.logits, test.features, test.labels, cfg.trust, others=others.as_others(), num_targets=3)
    images = [example.features.feature["image"].bytes_list.value[0] for example in _examples(splits["test"])]
    loaded = tf.saved_model.load(str(tmp / "serving"))
    outputs = loaded.signatures["gradcam_images"](images=tf.constant(images))
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"], trust.calibrated(test.logits), atol=1e-4)
    np.testing.assert_allclose(outputs["other_diagnosis_probability"], other_diagnosis_probability(test.logits, 3),
                               atol=1e-4)
    # The decision itself, on the same outputs: integer ranks. The test split holds part B, whose images are the
    # references themselves: recomputed in float32 one can count itself below (one rank); fresh images agree.
    score = loaded.trust.out_of_scope_score(tf.constant(test.logits, tf.float32), tf.constant(test.features, tf.float32))
    assert (np.abs(score.numpy() - trust.out_of_scope_score(test.logits, test.features)) <= 1.0).all()
    fresh = read_head_outputs(model, [splits["eval"]], batch_size=16)
    score = loaded.trust.out_of_scope_score(tf.constant(fresh.logits, tf.float32), tf.constant(fresh.features, tf.float32))
    assert (np.abs(score.numpy() - trust.out_of_scope_score(fresh.logits, fresh.features)) < 0.5).mean() >= 0.9
    # Through the Grad-CAM path's own float32 features: this tiny model's memory scores lie within 1e-3 of each
    # other, so an image can move by a rank or two against part B's 20 (exact parity: tests/unit/dermflow/models/
    # test_trust_head.py).
    in_scope = trust.in_scope_score(test.logits, test.features)
    print("in-scope |SavedModel - numpy|:", np.round(np.abs(outputs["in_scope_score"].numpy() - in_scope), 3).tolist())
    assert np.abs(outputs["in_scope_score"].numpy() - in_scope).mean() < 0.05
    assert (outputs["out_of_scope"].numpy() == trust.out_of_scope(test.logits, test.features)).mean() >= 0.85


def _examples(pattern: str) -> list:
    files = sorted(tf.io.gfile.glob(pattern))
    return [tf.train.Example.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]
