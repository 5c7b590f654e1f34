from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest

from dermflow.pipelines.scoring import run_reports
from dermflow.inference.heatmap_overlay import heatmap_png, jet, overlay


def _rows(entries):
    return pa.table({
        "path": [path for path, _ in entries],
        "predicted_label": [max(p, key=p.get) for _, p in entries],
        "probabilities": pa.array([list(p.items()) for _, p in entries], pa.map_(pa.string(), pa.float32())),
        "gradcam": [[0.0, 1.0, 0.5, 0.25]] * len(entries),
        "gradcam_shape": [[2, 2]] * len(entries),
    })


def test_isic_csv_puts_each_label_in_its_code_column():
    rows = _rows([("x/ISIC_1.jpg", {"MEL": 0.25, "NV": 0.5, "BCC": 0.25})])
    lines = run_reports.isic_csv_text(rows, ["MEL", "NV", "BCC"], {}).splitlines()
    assert lines == ["image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK",
                     "ISIC_1,0.250000,0.500000,0.250000,0.0,0.0,0.0,0.0,0.0,0.0"]


def test_isic_csv_spreads_a_group_probability_over_its_codes():
    groups = {"malignant": ["MEL", "BCC", "SCC", "AK"], "benign": ["NV", "BKL", "DF", "VASC"]}
    rows = _rows([("a.png", {"malignant": 0.75, "benign": 0.25})])
    values = dict(zip(run_reports.isic_csv_text(rows, ["malignant", "benign"], groups).splitlines()[0].split(","),
                      run_reports.isic_csv_text(rows, ["malignant", "benign"], groups).splitlines()[1].split(",")))
    assert [values[c] for c in ("MEL", "BCC", "SCC", "AK")] == ["0.750000"] * 4
    assert [values[c] for c in ("NV", "BKL", "DF", "VASC")] == ["0.250000"] * 4
    assert values["UNK"] == "0.0"


def test_top_rows_ranks_by_the_positive_label():
    rows = _rows([("a", {"MEL": 0.1, "NV": 0.9}), ("b", {"MEL": 0.8, "NV": 0.2}), ("c", {"MEL": 0.5, "NV": 0.5})])
    assert [r["path"] for r in run_reports.top_rows(rows, "MEL", 2)] == ["b", "c"]
    assert run_reports.positive_label(["malignant", "benign"], "MEL") == "malignant"


def test_gallery_escapes_paths_and_survives_missing_images():
    rows = _rows([("<script>.jpg", {"MEL": 0.9, "NV": 0.1})])
    records = [{**r, "gradcam": [1.0], "gradcam_shape": [1, 1]} for r in run_reports.top_rows(rows, "MEL", 5)]
    page = run_reports.gallery_html(records, "MEL", "t", {}, 10**8)
    assert "<script>.jpg" not in page and "&lt;script&gt;.jpg" in page
    assert "image not readable" in page


def test_heatmap_png_and_overlay_keep_the_hot_spot():
    heat = np.zeros((4, 4), np.float32)
    heat[0, 3] = 1.0
    from PIL import Image
    import io
    grey = np.asarray(Image.open(io.BytesIO(heatmap_png(heat, 16))))
    assert grey.shape == (16, 16) and np.unravel_index(grey.argmax(), grey.shape)[1] >= 12
    assert tuple(jet(np.array([0.0]))[0]) != tuple(jet(np.array([1.0]))[0])
    pixels = np.full((8, 8, 3), 128, np.uint8)
    blended = overlay(pixels, heat)
    assert blended.shape == pixels.shape
    assert np.abs(blended.astype(int) - 128).sum(axis=2)[0, 7] > np.abs(blended.astype(int) - 128).sum(axis=2)[7, 0]


def test_isic_csv_fills_unk_with_one_minus_the_in_scope_score():
    rows = _rows([("a.jpg", {"MEL": 0.25, "NV": 0.5, "BCC": 0.25}), ("b.jpg", {"MEL": 0.5, "NV": 0.25, "BCC": 0.25})])
    rows = rows.append_column("in_scope_score", pa.array([0.75, None], pa.float32()))
    lines = run_reports.isic_csv_text(rows, ["MEL", "NV", "BCC"], {}).splitlines()
    assert lines[1].split(",")[-1] == "0.250000"
    assert lines[2].split(",")[-1] == "0.0"


def test_the_gallery_headlines_an_out_of_scope_image_and_names_no_class():
    from dermflow.inference.prediction_reading import ModelFacts

    rows = pa.table({
        "path": ["coffee.jpg", "lesion.jpg"],
        "predicted_label": ["MEL", "NV"],
        "probabilities": pa.array([[("MEL", 0.99999), ("NV", 0.00001)], [("MEL", 0.2), ("NV", 0.8)]],
                                  pa.map_(pa.string(), pa.float32())),
        "in_scope_score": [0.0454, 0.7], "out_of_scope": [True, False], "prediction_set": [["MEL"], ["NV"]],
    })
    records = [{**r, "gradcam": [1.0], "gradcam_shape": [1, 1]} for r in run_reports.top_rows(rows, "MEL", 5)]
    facts = ModelFacts(["MEL", "NV"], {"MEL": "melanoma", "NV": "melanocytic nevus"}, coverage=0.9, trust_fitted=True)
    page = run_reports.gallery_html(records, "MEL", "t", {}, 10**8, facts, report_link="../registry/m/v/report/report.html")
    coffee = page[page.index("coffee.jpg"):page.index("lesion.jpg")]
    assert "Outside what this model knows" in coffee and "Most likely" not in coffee
    assert "<details><summary>probabilities (not an answer)</summary>" in coffee
    assert "melanoma (MEL): &gt;99 %" in coffee and "100.0" not in page
    assert "Less usual than 95 %" in coffee
    lesion = page[page.index("lesion.jpg"):]
    assert "Most likely melanocytic nevus (NV), 80 %" in lesion and "prediction set is melanocytic nevus (NV) alone" in lesion
    assert 'href="../registry/m/v/report/report.html"' in page
