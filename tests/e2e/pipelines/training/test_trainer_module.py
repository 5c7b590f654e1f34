"""run_fn as TFX's Trainer calls it, on a few tiny synthetic examples (one epoch per phase, weights averaged)."""
from __future__ import annotations

import json

import pytest
from tfx.components.trainer.fn_args_utils import FnArgs

from dermflow.config import DermflowConfig, load_config
from dermflow.pipelines.training.trainer_module import run_fn
from dermflow.pipelines.training.trainer_progress import CHECKPOINTS_FOLDER
from support.synthetic_training_examples import write_synthetic_out_of_scope, write_synthetic_splits

pytestmark = pytest.mark.e2e


def _tiny_config(work_dir) -> DermflowConfig:
    return load_config(overrides=[
        "model.image_size=32", "model.alpha=0.35", "model.weights=none",
        "train.batch_size=16", "train.head_epochs=1", "train.fine_tune_epochs=1", "train.fine_tune_layers=10",
        "train.weight_averaging=ema", f"paths.work_dir={work_dir}",
    ])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trainer")
    cfg = _tiny_config(tmp / "work")
    splits = write_synthetic_splits(tmp / "examples", {"train": 48, "eval": 12}, cfg.labels.label_names(), 32)
    fn_args = FnArgs(
        train_files=[splits["train"]], eval_files=[splits["eval"]],
        serving_model_dir=str(tmp / "serving"), model_run_dir=str(tmp / "run"),
        custom_config={"config_json": cfg.to_json()},
    )
    run_fn(fn_args)
    return tmp, cfg


def test_export_has_the_saved_model_and_its_extra_assets(trained):
    tmp, cfg = trained
    serving = tmp / "serving"
    assert (serving / "saved_model.pb").is_file()
    assert (serving / "assets.extra" / "model.keras").is_file()
    assert (serving / "assets.extra" / "labels.txt").read_text().split() == cfg.labels.label_names()
    assert json.loads((serving / "assets.extra" / "weights_provenance.json").read_text())


def test_history_has_one_row_per_epoch_of_both_phases(trained):
    tmp, _ = trained
    history = json.loads((tmp / "run" / "history.json").read_text())
    assert [(row["epoch"], row["phase"]) for row in history] == [(0, 1), (1, 2)]
    for row in history:
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "val_balanced_accuracy"):
            assert isinstance(row[key], float), key
        assert 0.0 <= row["val_balanced_accuracy"] <= 1.0
        assert row["train_images"] == 3 * 16 and row["train_seconds"] > 0


def test_tensorboard_events_are_written(trained):
    tmp, _ = trained
    assert list((tmp / "run").rglob("events.out.tfevents.*"))


def test_checkpoints_are_removed_after_export(trained):
    tmp, _ = trained
    assert not any((tmp / "work" / CHECKPOINTS_FOLDER).iterdir())


def test_trust_values_are_fitted_on_the_eval_split_when_there_is_no_test_split(trained):
    tmp, _ = trained
    calibration = json.loads((tmp / "serving" / "assets.extra" / "calibration.json").read_text())
    assert calibration["shared_split"] is True
    assert calibration["fit"]["fitted"] is True and calibration["fit"]["split"] == "eval"
    assert calibration["fit"]["sizes"] == {"held_out": 12, "part_a": 6, "part_b": 6, "others_part_a": 0,
                                           "others_part_b": 0}
    assert calibration["temperature"] > 0
    assert calibration["out_of_scope"]["other_classes"] == []  # no OutOfScope folder: novelty only


@pytest.fixture(scope="module")
def trained_with_test_split(tmp_path_factory):
    """Train/eval/test splits plus the other diagnoses ClassFilter keeps beside eval and test."""
    tmp = tmp_path_factory.mktemp("trainer_test_split")
    cfg = _tiny_config(tmp / "work")
    splits = write_synthetic_splits(tmp / "examples", {"train": 48, "eval": 12, "test": 16}, cfg.labels.label_names(), 32)
    write_synthetic_out_of_scope(tmp / "examples", {"test": {"BKL": 6, "DF": 4}, "eval": {"BKL": 3, "AK": 2}}, 32)
    fn_args = FnArgs(
        train_files=[splits["train"]], eval_files=[splits["eval"]],
        serving_model_dir=str(tmp / "serving"), model_run_dir=str(tmp / "run"),
        custom_config={"config_json": cfg.to_json()},
    )
    run_fn(fn_args)
    return json.loads((tmp / "serving" / "assets.extra" / "calibration.json").read_text()), tmp / "serving"


def test_the_drift_baseline_is_the_test_split_through_scorings_predictor(trained_with_test_split):
    from dermflow.monitoring.drift_baseline import read_drift_baseline

    baseline = read_drift_baseline(trained_with_test_split[1])
    # Part B of the 16 test images: part A fitted the temperature and the class means.
    assert (baseline.split, baseline.images) == ("test", 8) and baseline.note.startswith("part B, 8 of 16:")
    rows = baseline.table.to_pylist()
    assert {row["predicted_label"] for row in rows} <= {"MEL", "NV", "BCC"}
    assert all(0 < row["mean_brightness"] < 255 and 0 < row["predicted_probability"] <= 1 for row in rows)
    assert all(row["prediction_set_size"] >= 0 and row["out_of_scope"] in (True, False) for row in rows)
    assert {row["width"] for row in rows} == {None}  # these examples carry no source size (ingest's do)


def test_without_a_test_split_the_drift_baseline_is_the_eval_split_and_says_so(trained):
    from dermflow.monitoring.drift_baseline import read_drift_baseline

    tmp, _ = trained
    baseline = read_drift_baseline(tmp / "serving")
    assert (baseline.split, baseline.images) == ("eval", 6)  # part B: the trust values were fitted on eval too
    assert "without a test split" in baseline.note and baseline.note.startswith("part B, 6 of 12:")


def test_the_other_diagnoses_of_the_test_split_enter_the_detector(trained_with_test_split):
    calibration, _ = trained_with_test_split
    assert calibration["shared_split"] is False and calibration["fit"]["split"] == "test"
    sizes = calibration["fit"]["sizes"]
    assert (sizes["held_out"], sizes["others_part_a"], sizes["others_part_b"]) == (16, 5, 5)
    scope = calibration["out_of_scope"]
    assert scope["method"].endswith("minus_other_class_means") and scope["other_class_weight"] == 2.0
    assert set(scope["other_classes"]) <= {"BKL", "DF"} and scope["other_classes"]  # codes with >= 2 part-A images
    evaluation = calibration["evaluation"]["out_of_scope"]  # the eval split's other diagnoses vs its targets
    assert (evaluation["targets"], evaluation["others"]) == (12, 5)
    assert set(evaluation["per_class"]) == {"AK", "BKL"} and 0.0 <= evaluation["auroc"] <= 1.0
