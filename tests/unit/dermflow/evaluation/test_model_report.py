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
        calibration = {"temperature": 1.7321, "fit": {"fitted": True, "split": "test", "ece_before": 0.0912,
                                                      "ece_after": 0.0188},
                       "abstention": {"method": "hod", "codes": ["AK", "BKL"]},
                       "out_of_scope": {"in_scope_retention": 0.95, "decision_threshold": 380.0,
                                        "signals": ["novelty", "memory"],
                                        "flag": {"status": "beyond_every_held_out_image",
                                                 "promise": "the 95% retention needs 19 held-out in-scope images"}},
                       "conformal": {"coverage": 0.9, "quantile": 0.8},
                       "evaluation": {"coverage": 0.9134, "out_of_scope": {"auroc": 0.8311, "auroc_max_softmax": 0.6761,
                                                                           "other_flag_rate": 0.1657,
                                                                           "auroc_novelty": 0.8244,
                                                                           "auroc_memory": 0.9012,
                                                                           "other_flagged_by": {"memory": 0.1234,
                                                                                                "novelty": 0.0567}}}}
        (saved_model / "assets.extra" / "calibration.json").write_text(json.dumps(calibration))
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"stand-in")
    metrics = {
        "overall": {"example_count": 30.0, "isic_balanced_accuracy": 0.8123, "per_class": {"MEL": {"auc": 0.93, "sensitivity": 0.7}}},
        "slices": {"sex=female": {"example_count": 12.0, "isic_balanced_accuracy": 0.75}},
        "confusion_matrix": {"labels": LABELS, "rows_true_columns_predicted": [[5, 1, 0], [0, 6, 1], [1, 0, 7]]},
    }
    return publish_version(tmp_path / "registry", "m", saved_model, keras_file, LABELS, metrics, {"weights": {"source": "none"}}, "{}")


def test_report_has_the_five_pictures_the_metrics_and_the_trust_table(tmp_path):
    version = _version(tmp_path)
    report = write_run_report(tmp_path / "registry")

    assert report == version.path / "report" / "report.html"
    for name in ("confusion_matrix.png", "roc_curves.png", "reliability_diagram.png", "training_curves.png",
                 "versions_balanced_accuracy.png"):
        with Image.open(report.parent / name) as picture:
            assert picture.size[0] > 200 and picture.size[1] > 200
    text = report.read_text()
    assert text.count("data:image/png;base64,") == 5  # self-contained
    assert "0.8123" in text and "sex=female" in text and "MEL" in text
    assert (version.path / "calibration.json").is_file()  # the registry copies it beside metrics.json
    assert "1.7321" in text and "0.0912 / 0.0188" in text and "0.9134" in text
    assert "hod: AK, BKL" in text and "0.8311 / 0.6761" in text and "0.1657 / 0.1234 / 0.0567" in text
    assert "novelty, memory" in text and "0.8244 / 0.9012" in text  # each signal alone
    assert "cannot keep 0.9500 of in-scope images" in text and "needs 19 held-out" in text  # the flag's warning
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


def test_a_model_judged_on_the_test_split_is_measured_on_it(tmp_path):
    version = _version(tmp_path)
    metrics = json.loads((version.path / "metrics.json").read_text())
    (version.path / "metrics.json").write_text(json.dumps({**metrics, "split": "test"}))  # as the RegistryPusher records it
    text = write_run_report(version.path, tmp_path / "out").read_text()
    assert "Measured on the test split (30 images)" in text and "also chose the training epoch" not in text
    assert "Confusion matrix (test split)" in text


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


ARTEFACT_REPORT = {
    "labels": LABELS, "kinds": ["ruler", "hair"], "images": {"MEL": 20, "NV": 40, "BCC": 10}, "seed": 0, "max_flip_rate": 0.05, "gated": True,
    "passed": False, "failed_kinds": ["ruler"], "reencoded_flip_rate": 0.0143, "lesion_mass_clean": 0.42,
    "reason": "artefact check failed (eval.max_artefact_flip_rate 5.0%): ruler changes 19.2% of labels (NV 7/40 -> MEL 7)",
    "artefacts": {  # sorted by key, as artefact_check.json is
        "hair": {"flip_rate": 0.01, "max_class_flip_rate": 0.01, "lesion_mass_before": 0.42, "lesion_mass_after": 0.4,
                 "passed": True, "gated": False, "per_class": {
                     "NV": {"n": 40, "flips": 0, "flip_rate": 0.0, "flip_rate_interval": [0.0, 0.088], "flipped_to": {},
                            "mean_probability_change": {"MEL": 0.002, "NV": -0.001, "BCC": 0.0},
                            "lesion_mass_before": 0.45, "lesion_mass_after": 0.44}}},
        "ruler": {"flip_rate": 0.192, "max_class_flip_rate": 0.3, "lesion_mass_before": 0.42, "lesion_mass_after": 0.18,
                  "passed": False, "gated": True, "per_class": {
                      "NV": {"n": 40, "flips": 7, "flip_rate": 0.175, "flip_rate_interval": [0.087, 0.32],
                             "flipped_to": {"MEL": 7}, "mean_probability_change": {"MEL": 0.181, "NV": -0.17, "BCC": -0.011},
                             "lesion_mass_before": 0.45, "lesion_mass_after": 0.2}}},
    },
    "examples": {"ruler": {"file": "examples/ruler.png", "image_id": "ISIC_0000123", "true_label": "NV",
                           "before": {"label": "NV", "probability": 0.91, "lesion_mass": 0.5},
                           "after": {"label": "MEL", "probability": 0.77, "lesion_mass": 0.12}}},
}


def test_report_shows_the_artefact_check_table_verdict_and_examples(tmp_path):
    version = _version(tmp_path)
    folder = version.saved_model_dir / "assets.extra" / "artefact_check"
    (folder / "examples").mkdir(parents=True)
    (folder / "artefact_check.json").write_text(json.dumps(ARTEFACT_REPORT))
    Image.new("RGB", (800, 200), (200, 100, 50)).save(folder / "examples" / "ruler.png")

    text = write_run_report(version.path).read_text()
    assert "Artefacts: does the answer change" in text
    assert ("<p class='verdict fail'>Not blessed: 1 of the 1 gated artefacts change more than 5.0% of the labels "
            "(ruler 19.2%).</p>") in text
    assert "ruler changes 19.2% of labels (NV 7/40 -&gt; MEL 7)" in text  # the full reason, folded
    assert text.index("<td>ruler</td>") < text.index("<td>hair</td>")  # the config's order, not the file's
    assert "<tr class='failed'><td>ruler</td><td>19.2%</td><td>30.0%</td><td>0.42 → 0.18</td><td>FAIL</td></tr>" in text
    assert "<td>hair</td><td>1.0%</td>" in text and "<td>not gated</td>" in text
    assert "<td>7 (17.5%, 8.7%–32.0%)</td><td>MEL 7</td><td>+0.181</td><td>-0.170</td><td>-0.011</td>" in text
    assert "re-encoding alone changed 1.4%" in text
    section = text[text.index("Artefacts: does the answer change"):]
    section = section[:section.find("<h2>", 5)] if "<h2>" in section[5:] else section
    assert section.count("data:image/png;base64,") == 1  # the ruler example's before/after strip
    assert "ISIC_0000123 (true NV). Before: NV 91.0%" in text and "After: MEL 77.0%, mass in lesion 0.12" in text
    assert "<span>with ruler</span>" in text


def test_report_says_when_a_version_has_no_artefact_check(tmp_path):
    _version(tmp_path)
    assert "no artefact check for this version" in write_run_report(tmp_path / "registry").read_text()
