from dermflow.pipelines.training.trainer_console import epoch_line


def test_an_epoch_line_names_phase_progress_loss_bma_speed_and_eta():
    row = {"phase": 2, "phase_epoch": 2, "loss": 0.51234, "val_balanced_accuracy": 0.7, "train_images": 640,
           "train_seconds": 4.0, "epoch_seconds": 5.0}
    assert epoch_line(row, {1: 2, 2: 12}) == (
        "train:   phase 2 (fine-tune) epoch 3/12  loss 0.512  eval BMA 0.700  160 img/s  ETA 45s"
    )
    assert epoch_line({**row, "val_balanced_accuracy": None, "epoch_seconds": 400.0}, {2: 12}).endswith("ETA 1h00m")
