"""What the Trainer has done so far, kept at a stable place so a new Trainer execution resumes it.

An Airflow retry or a re-run of the same inputs gets a new ``model_run_dir`` from TFX, so the
state lives under ``<paths.work_dir>/trainer_checkpoints/<key>``, where the key hashes the train
and eval files and the config. It holds:

- ``progress.json``: the number of Trainer runs so far and the epoch history;
- ``phase<N>_backup/``: Keras ``BackupAndRestore`` of the phase in progress (resumes mid-phase);
- ``phase<N>.weights.h5``: the classifier's weights at the end of a finished phase (written
  atomically: its presence is what marks the phase finished).

It is deleted after a successful export.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import keras

from dermflow.atomic_write import atomic_path

CHECKPOINTS_FOLDER = "trainer_checkpoints"


def checkpoint_key(train_files: list[str], eval_files: list[str], config_json: str) -> str:
    """A short hash of what determines the training: the data files and the whole config."""
    payload = json.dumps({"train": sorted(train_files), "eval": sorted(eval_files), "config": config_json})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


class TrainingProgress:
    """Reads and atomically rewrites ``progress.json``; each ``open`` counts one more Trainer run."""

    def __init__(self, root: Path, state: dict):
        self.root = root
        self._state = state

    @classmethod
    def open(cls, root: str | Path) -> "TrainingProgress":
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        path = root / "progress.json"
        state = json.loads(path.read_text()) if path.is_file() else {"runs": 0, "history": []}
        state["runs"] += 1
        progress = cls(root, state)
        progress._save()
        return progress

    @property
    def run(self) -> int:
        """1 for the first Trainer execution on these inputs, 2 for the first resume, ..."""
        return int(self._state["runs"])

    @property
    def history(self) -> list[dict]:
        return sorted(self._state["history"], key=lambda row: row["epoch"])

    def epochs_before(self, phase: int) -> int:
        return sum(1 for row in self._state["history"] if row["phase"] < phase)

    def record_epoch(self, row: dict) -> None:
        """Keeps one row per epoch: a re-run epoch (after a kill before its backup) replaces the old row."""
        self._state["history"] = [r for r in self._state["history"] if r["epoch"] != row["epoch"]] + [row]
        self._save()

    def backup_dir(self, phase: int) -> Path:
        return self.root / f"phase{phase}_backup"

    def is_finished(self, phase: int) -> bool:
        return self._weights_path(phase).is_file()

    def finish_phase(self, phase: int, classifier: keras.Model) -> None:
        with atomic_path(self._weights_path(phase)) as temporary:
            classifier.save_weights(temporary)

    def restore_phase(self, phase: int, classifier: keras.Model) -> None:
        classifier.load_weights(self._weights_path(phase))

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _weights_path(self, phase: int) -> Path:
        return self.root / f"phase{phase}.weights.h5"

    def _save(self) -> None:
        path = self.root / "progress.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self._state, indent=1))
        os.replace(temporary, path)
