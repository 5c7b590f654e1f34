"""The artefact check and its gate, with two models whose behaviour we know: one that reads the lesion, one that
reads the image's border (where rulers, patches and dark corners go)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dermflow.config import DataConfig
from dermflow.evaluation.artefact_check import CheckImage, CheckSettings, ModelOutputs, choose_examples, measure_artefacts
from dermflow.evaluation.artefact_summary import gate_reason, metrics_summary, summarise, wilson_interval
from dermflow.imaging import encode_jpeg
from dermflow.imaging.model_input import ImagePathSettings, prepare_image

LABELS = ["MEL", "NV", "BCC"]
SKIN = (205, 170, 150)
LESION_COLOURS = ((60, 30, 30), (120, 80, 50), (190, 110, 120))  # MEL dark, NV brown, BCC pink
SIDE = 96
SETTINGS = ImagePathSettings.from_config(DataConfig())


def _photo(label: int, index: int) -> CheckImage:
    rng = np.random.default_rng(index)
    pixels = np.empty((SIDE, SIDE, 3), np.uint8)
    pixels[:] = SKIN
    mask = np.zeros((SIDE, SIDE), bool)
    cy, cx = SIDE // 2 + rng.integers(-6, 7, 2)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    mask[(yy - cy) ** 2 + (xx - cx) ** 2 < (SIDE * 0.22) ** 2] = True
    pixels[mask] = LESION_COLOURS[label]
    return CheckImage(f"ISIC_{label}{index:05d}", label, encode_jpeg(pixels, 95), lesion_mask=mask)


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.float32)


def _lesion_reader(images: list[bytes]) -> ModelOutputs:
    """Classifies the centre's colour; its Grad-CAM is the centre."""
    probabilities, cams = [], []
    for data in images:
        pixels = _decode(data)
        h, w = pixels.shape[:2]
        centre = np.median(pixels[h // 3:2 * h // 3, w // 3:2 * w // 3].reshape(-1, 3), axis=0)
        distance = np.array([np.abs(centre - colour).sum() for colour in LESION_COLOURS])
        logits = -distance / 20
        probabilities.append(np.exp(logits) / np.exp(logits).sum())
        cam = np.zeros((6, 6), np.float32)
        cam[2:4, 2:4] = 1.0
        cams.append(cam)
    return ModelOutputs(np.array(probabilities, np.float32), np.array(cams))


def _border_reader(images: list[bytes]) -> ModelOutputs:
    """The lesion reader, except that anything on the border besides plain skin means melanoma: a shortcut."""
    honest = _lesion_reader(images)
    probabilities, cams = [], []
    for data, p in zip(images, honest.probabilities):
        pixels = _decode(data)
        band = pixels.shape[0] // 5
        border = np.concatenate([pixels[:band].reshape(-1, 3), pixels[-band:].reshape(-1, 3),
                                 pixels[:, :band].reshape(-1, 3), pixels[:, -band:].reshape(-1, 3)])
        marked = (np.abs(border - np.array(SKIN)).sum(axis=1) > 60).mean() > 0.01
        probabilities.append(np.array([0.9, 0.05, 0.05], np.float32) if marked else p)
        cam = np.zeros((6, 6), np.float32)
        cam[5, :] = 1.0 if marked else 0.0
        cam[2:4, 2:4] = 0.2 if marked else 1.0
        cams.append(cam)
    return ModelOutputs(np.array(probabilities, np.float32), np.array(cams))


def _prepare(data: bytes) -> bytes:
    return prepare_image(data, SETTINGS).data


@pytest.fixture(scope="module")
def images() -> list[CheckImage]:
    return [_photo(label, index) for label in range(3) for index in range(8)]


KINDS = ("ruler", "patch", "dark_corners", "ink")


@pytest.fixture(scope="module")
def honest(images):
    return measure_artefacts(images, _lesion_reader, _prepare, CheckSettings(kinds=KINDS, seed=0, batch_size=16))


@pytest.fixture(scope="module")
def shortcut(images):
    return measure_artefacts(images, _border_reader, _prepare, CheckSettings(kinds=KINDS, seed=0, batch_size=16))


def test_a_model_that_reads_the_lesion_passes_the_gate(honest):
    report = summarise(honest, LABELS, max_flip_rate=0.05)
    assert report["passed"] and report["failed_kinds"] == []
    assert report["images"] == {"MEL": 8, "NV": 8, "BCC": 8}
    for kind in KINDS:
        assert report["artefacts"][kind]["flip_rate"] == 0.0
        assert report["artefacts"][kind]["lesion_mass_after"] == report["lesion_mass_clean"] > 0.75
    assert report["mask_sources"] == {"archive": 24}
    assert report["reencoded_flip_rate"] == 0.0
    assert report["reason"].startswith("artefact check passed")


def test_a_model_that_reads_the_border_fails_the_gate_and_the_reason_names_the_artefacts(shortcut):
    report = summarise(shortcut, LABELS, max_flip_rate=0.05)
    assert not report["passed"]
    assert {"ruler", "patch", "dark_corners"} <= set(report["failed_kinds"])
    ruler = report["artefacts"]["ruler"]
    nevi = ruler["per_class"]["NV"]
    assert nevi["flips"] == 8 and nevi["flip_rate"] == 1.0 and nevi["flipped_to"] == {"MEL": 8}
    assert nevi["mean_probability_change"]["MEL"] > 0.5 and nevi["mean_probability_change"]["NV"] < -0.5
    assert ruler["per_class"]["MEL"]["flips"] == 0
    assert ruler["flip_rate"] == pytest.approx(2 / 3, abs=1e-3)  # the mean of the classes' 0, 1, 1
    assert ruler["lesion_mass_after"] < ruler["lesion_mass_before"]
    assert "ruler changes 66.7% of labels (NV 8/8 -> MEL 8; BCC 8/8 -> MEL 8)" in report["reason"]
    assert report["reason"].startswith("artefact check failed (eval.max_artefact_flip_rate 5.0%)")


def test_only_the_gated_kinds_can_fail(shortcut):
    report = summarise(shortcut, LABELS, max_flip_rate=0.05, gate_kinds=("ruler",))
    assert report["gate_kinds"] == ["ruler"] and report["failed_kinds"] == ["ruler"]
    assert report["artefacts"]["patch"]["gated"] is False and report["artefacts"]["patch"]["passed"]
    assert report["artefacts"]["patch"]["flip_rate"] > 0.5  # still measured and reported
    ungated = summarise(shortcut, LABELS, max_flip_rate=0.05, gate_kinds=())
    assert ungated["passed"] and "no artefact gated" in ungated["reason"]


def test_without_a_limit_the_figures_are_reported_and_nothing_fails(shortcut):
    report = summarise(shortcut, LABELS, max_flip_rate=None)
    assert report["passed"] and not report["gated"]
    assert report["artefacts"]["ruler"]["per_class"]["NV"]["flips"] == 8
    assert "not gated" in report["reason"]


def test_the_metrics_summary_keeps_the_verdict_and_the_rates(shortcut):
    summary = metrics_summary(summarise(shortcut, LABELS, max_flip_rate=0.05))
    assert summary["passed"] is False and "ruler" in summary["failed_kinds"]
    assert summary["per_artefact"]["ruler"]["per_class_flip_rate"]["NV"] == 1.0
    assert summary["per_artefact"]["ruler"]["per_class_flipped_to"]["BCC"] == {"MEL": 8}


def test_examples_are_the_images_whose_answer_moved(shortcut):
    chosen = choose_examples(shortcut)
    assert set(chosen) == set(KINDS)
    predicted = shortcut.predicted()
    assert predicted[chosen["ruler"], 2] != predicted[chosen["ruler"], 1]


def test_the_archive_mask_is_spared_and_otsu_is_used_without_one(images):
    plain = [CheckImage(i.image_id, i.label, i.jpeg) for i in images[:3]]
    measured = measure_artefacts(plain, _lesion_reader, _prepare, CheckSettings(kinds=("ruler",)))
    assert measured.mask_source == ["otsu"] * 3
    assert measured.probabilities.shape == (3, 3, 3)  # original, control, ruler


def test_wilson_interval_brackets_the_rate():
    low, high = wilson_interval(0, 50)
    assert low == 0.0 and 0.05 < high < 0.1
    low, high = wilson_interval(10, 100)
    assert low < 0.1 < high
    assert gate_reason({}, [], 0.05, LABELS) == "artefact check: no images were checked"
