"""A Trainer killed (SIGKILL) mid-training resumes, in a new execution, from its last checkpoint."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from dermflow.config import load_config
from dermflow.pipelines.training.trainer_progress import CHECKPOINTS_FOLDER
from support.synthetic_training_examples import write_synthetic_splits

pytestmark = pytest.mark.e2e

HEAD_EPOCHS, FINE_TUNE_EPOCHS = 1, 3

# run_fn reads FnArgs' attributes only; a namespace spares each process the import of TFX.
RUN_TRAINER = """
import json, sys, types
from dermflow.pipelines.training.trainer_module import run_fn
run_fn(types.SimpleNamespace(**json.loads(sys.argv[1])))
"""


def _start_trainer(fn_args: dict, run_dir) -> subprocess.Popen:
    # Each execution gets its own model_run_dir, as a TFX retry does.
    args = {**fn_args, "model_run_dir": str(run_dir)}
    return subprocess.Popen([sys.executable, "-c", RUN_TRAINER, json.dumps(args)])


def _wait_for(predicate, process: subprocess.Popen, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        if process.poll() is not None:
            pytest.fail(f"the trainer exited ({process.returncode}) before the awaited checkpoint")
        time.sleep(0.05)
    pytest.fail("no checkpoint appeared in time")


# The trunk-feature cache is recomputed by the resumed Trainer, which then continues from the backup.
FEATURE_CACHE = ["model.alpha=1.0", "model.weights=imagenet", "train.preset=fast"]


@pytest.mark.parametrize("extra", [[], FEATURE_CACHE], ids=["plain", "feature_cache"])
def test_killed_trainer_resumes_from_its_checkpoint(tmp_path, extra):
    cfg = load_config(overrides=[
        "model.image_size=32", "model.alpha=0.35", "model.weights=none", "train.batch_size=8", *extra,
        "train.steps_per_epoch=6", f"train.head_epochs={HEAD_EPOCHS}", f"train.fine_tune_epochs={FINE_TUNE_EPOCHS}",
        "train.fine_tune_layers=10", "train.early_stopping_patience=100", f"paths.work_dir={tmp_path / 'work'}",
    ])
    splits = write_synthetic_splits(tmp_path / "examples", {"train": 24, "eval": 9}, cfg.labels.label_names(), 32)
    fn_args = {
        "train_files": [splits["train"]], "eval_files": [splits["eval"]],
        "serving_model_dir": str(tmp_path / "serving"), "custom_config": {"config_json": cfg.to_json()},
    }
    checkpoints = tmp_path / "work" / CHECKPOINTS_FOLDER

    first = _start_trainer(fn_args, tmp_path / "run1")
    # Phase 1 finished and phase 2 backed up at least one epoch: kill it there.
    metadata = _wait_for(lambda: next(checkpoints.glob("*/phase2_backup/training_metadata.json"), None), first, 300)
    _wait_for(lambda: metadata.read_text().strip(), first, 10)
    first.send_signal(signal.SIGKILL)
    first.wait()
    backed_up_epoch = json.loads(metadata.read_text())["epoch"]
    assert not (tmp_path / "serving" / "saved_model.pb").exists()

    second = _start_trainer(fn_args, tmp_path / "run2")
    assert second.wait(timeout=300) == 0

    history = json.loads((tmp_path / "run2" / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(HEAD_EPOCHS + FINE_TUNE_EPOCHS))
    resumed = [row["epoch"] for row in history if row["trainer_run"] == 2]
    assert resumed == list(range(backed_up_epoch, HEAD_EPOCHS + FINE_TUNE_EPOCHS))
    assert HEAD_EPOCHS < backed_up_epoch  # phase 1 was not trained again
    assert cfg.train.feature_cache == bool(extra)
    assert (tmp_path / "serving" / "saved_model.pb").is_file()
    assert not any(checkpoints.iterdir())
