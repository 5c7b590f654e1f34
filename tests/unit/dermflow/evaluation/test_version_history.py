"""Each version's balanced accuracy on its judged split, with its interval, over time."""
import json

import pytest

from dermflow.evaluation.version_history import plot_version_history, version_history
from dermflow.registry import RegisteredModel


def version(root, name, split, matrix, accuracy):
    folder = root / "model" / name
    (folder / "saved_model").mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "split": split, "overall": {"isic_balanced_accuracy": accuracy},
        "confusion_matrix": {"rows_true_columns_predicted": matrix}}))
    return RegisteredModel("model", name, folder)


def test_rows_go_up_to_this_version_with_an_interval_around_the_balanced_accuracy(tmp_path):
    version(tmp_path, "20260101T000000Z", "eval", [[8, 2], [1, 9]], 0.85)
    second = version(tmp_path, "20260201T000000Z", "test", [[18, 2], [4, 16]], 0.85)
    version(tmp_path, "20260301T000000Z", "test", [[20, 0], [0, 20]], 1.0)
    (tmp_path / "model" / ".20260401T000000Z.staging").mkdir()
    rows = version_history(second)
    assert [(r["version"], r["split"], r["images"]) for r in rows] == [
        ("20260101T000000Z", "eval", 20), ("20260201T000000Z", "test", 40)]
    assert all(r["low"] < r["balanced_accuracy"] < r["high"] for r in rows)
    assert rows[1]["high"] - rows[1]["low"] < rows[0]["high"] - rows[0]["low"], "more images, a narrower interval"
    assert rows[1]["balanced_accuracy"] == pytest.approx(0.85)
    picture = plot_version_history(rows, tmp_path / "versions.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_version_history([], tmp_path / "none.png") is None
