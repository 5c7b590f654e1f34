"""The Trainer's console line per epoch, in the style of ``dermflow train``'s component lines.

    print(epoch_line(row, phase_epochs={1: 2, 2: 12}))
    # train:   phase 1 (head) epoch 2/2  loss 0.912  eval BMA 0.633  118 img/s  ETA 0s

``row`` is an :class:`~dermflow.pipelines.training.trainer_callbacks.EpochHistory` row; the ETA is for the
rest of the phase, at this epoch's pace (early stopping may end it sooner).
"""
from __future__ import annotations

from dermflow.console_progress import format_duration

PHASE_NAMES = {1: "head", 2: "fine-tune"}


def epoch_line(row: dict, phase_epochs: dict[int, int]) -> str:
    phase, done = int(row["phase"]), int(row["phase_epoch"]) + 1
    total = phase_epochs.get(phase, done)
    seconds = float(row.get("train_seconds") or 0.0)
    rate = row.get("train_images", 0) / seconds if seconds > 0 else 0.0
    eta = max(total - done, 0) * float(row.get("epoch_seconds") or 0.0)
    bma = row.get("val_balanced_accuracy")
    return (
        f"train:   phase {phase} ({PHASE_NAMES.get(phase, phase)}) epoch {done}/{total}"
        f"  loss {row.get('loss', float('nan')):.3f}"
        f"  eval BMA {'n/a' if bma is None else format(bma, '.3f')}"
        f"  {rate:.0f} img/s  ETA {format_duration(eta)}"
    )

