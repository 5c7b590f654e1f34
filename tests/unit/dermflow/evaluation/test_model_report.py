"""The run report, from a version directory made by hand (small npz + history)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dermflow.registry import publish_version
from dermflow.evaluation.model_report import write_run_report

LABELS = ["MEL", "NV", "BCC"]


def _version(tmp_path: Path, with_extras: bool = True):
    saved_model = tmp_path / "export"
    (saved_model / "assets.extra").mkdir(parents=True)
    (saved_model / "saved_model.pb").write_bytes(b"stand-in")
    if with_extras:
        rng = np.random.default_rng(0)
        labels = np.repeat([0, 1, 2], 10)
        probabilities = rng.dirichlet([1, 1, 1], 30).astype(np.float32)
        probabilities[np.arange(30), labels] += 1.0
        np.savez(saved_model / "assets.extra" / "eval_predictions.npz",
                 labels=labels, probabilities=probabilities / probabilities.sum(1, keepdims=True), image_ids=np.array([f"i{i}" for i in range(30)]))
        history = [{"phase": 1, "loss": 1.0, "val_loss": 1.1, "accuracy": 0.5, "val_accuracy": 0.4, "val_balanced_accuracy": 0.4},
                   {"phase": 2, "loss": 0.5, "val_loss": 0.7, "accuracy": 0.8, "val_accuracy": 0.7, "val_balanced_accuracy": 0.66}]
        (saved_model / "assets.extra" / "history.json").write_text(json.dumps(history))
        calibration = {"temperature": 1.7321, "fit": {"split": "test", "ece_before": 0.0912, "ece_after": 0.0188},
                       "out_of_scope": {"in_scope_retention": 0.95, "distance_threshold": 3.5,
                                        "other_classes": ["AK", "BKL"], "other_class_weight": 2.0,
                                        "other_classifier": {"regularisation_c": 10.0},
                                        "combination": {"method": "either_pvalue"}},
                       "conformal": {"coverage": 0.9, "quantile": 0.8},
                       "evaluation": {"coverage": 0.9134, "out_of_scope": {"auroc": 0.8311, "auroc_max_softmax": 0.6761,
                                                                           "other_flag_rate": 0.1657,
                                                                           "auroc_feature_distance": 0.8244,
                                                                           "auroc_other_classifier": 0.9012}}}
        (saved_model / "assets.extra" / "calibration.json").write_text(json.dumps(calibration))
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"stand-in")
    metrics = {
        "overall": {"example_count": 30.0, "isic_balanced_accuracy": 0.8123, "per_class": {"MEL": {"auc": 0.93, "sensitivity": 0.7}}},
        "slices": {"sex=female": {"example_count": 12.0, "isic_balanced_accuracy": 0.75}},
        "confusion_matrix": {"labels": LABELS, "rows_true_columns_predicted": [[5, 1, 0], [0, 6, 1], [1, 0, 7]]},
    }
    return publish_version(tmp_path / "registry", "m", saved_model, keras_file, LABELS, metrics, {"weights": {"source": "none"}}, "{}")


def test_report_has_the_four_pictures_the_metrics_and_the_trust_table(tmp_path):
    version = _version(tmp_path)
    report = write_run_report(tmp_path / "registry")

    assert report == version.path / "report" / "report.html"
    for name in ("confusion_matrix.png", "roc_curves.png", "reliability_diagram.png", "training_curves.png"):
        with Image.open(report.parent / name) as picture:
            assert picture.size[0] > 200 and picture.size[1] > 200
    text = report.read_text()
    assert text.count("data:image/png;base64,") == 4  # self-contained
    assert "0.8123" in text and "sex=female" in text and "MEL" in text
    assert (version.path / "calibration.json").is_file()  # the registry copies it beside metrics.json
    assert "1.7321" in text and "0.0912 / 0.0188" in text and "0.9134" in text
    assert "AK, BKL / 2.0000" in text and "0.8311 / 0.6761" in text and "0.1657" in text
    assert "10.0000 / either_pvalue" in text and "0.8244 / 0.9012" in text  # the classifier and its combination
    assert "not available" not in text


def test_each_headline_figure_has_its_split_n_interval_and_meaning_and_no_row_is_na(tmp_path):
    import re

    _version(tmp_path)
    text = write_run_report(tmp_path / "registry").read_text()
    table = text[text.index("id='headline-figures'"):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]
    names = [re.findall(r"<td[^>]*>(.*?)</td>", row)[0] for row in rows]
    assert names[0] == "balanced accuracy" and "sensitivity, melanoma (MEL)" in names
    assert "AUC, basal cell carcinoma (BCC) against the rest" in names and names[-1] == "calibration error (ECE, top label)"
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        low, high = (float(x) for x in cells[2].split(" to "))
        assert low <= float(cells[1]) <= high and cells[3] == "eval" and int(cells[4]) >= 10 and cells[6].endswith(".")
    assert "also chose the training epoch" in text
    assert "n/a" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)  # rows without a value are left out
    assert "Expected calibration error" in text  # a sentence on what the figure means


def test_a_model_with_test_predictions_is_measured_on_them(tmp_path):
    version = _version(tmp_path)
    extras = version.saved_model_dir / "assets.extra"
    truth = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    probabilities = np.eye(3)[truth] * 0.8 + 0.2 / 3
    np.savez(extras / "test_predictions.npz", labels=truth, probabilities=probabilities)
    text = write_run_report(version.path, tmp_path / "out").read_text()
    assert "Measured on the test split (8 images)" in text and "also chose the training epoch" not in text


def test_report_goes_where_asked_and_says_what_is_missing(tmp_path):
    version = _version(tmp_path, with_extras=False)
    report = write_run_report(version.path, tmp_path / "out")

    assert report == tmp_path / "out" / "report.html"
    assert (tmp_path / "out" / "confusion_matrix.png").is_file()  # from the Evaluator's matrix
    assert not (tmp_path / "out" / "roc_curves.png").exists()
    assert report.read_text().count("not available") == 4  # three pictures, and the headline figures


def test_a_missing_model_is_an_error(tmp_path):
    with pytest.raises(LookupError):
        write_run_report(tmp_path / "nothing")
