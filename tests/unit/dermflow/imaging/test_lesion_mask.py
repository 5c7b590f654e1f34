"""The Otsu lesion mask on synthetic photographs (whose true masks we know), and Grad-CAM mass against it."""
from __future__ import annotations

import numpy as np
import pytest

from dermflow.imaging import encode_jpeg
from dermflow.imaging.lesion_mask import (
    WORK_SIDE, lesion_attention, lesion_mask, lesion_mask_of_jpeg, otsu_threshold, resize_mask,
)
from dermflow.synthetic.photo_renderer import render_image


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(1, float((a | b).sum()))


@pytest.mark.parametrize("diagnosis", ["MEL", "NV"])
def test_the_mask_of_pigmented_lesions_agrees_with_the_painted_one(diagnosis):
    scores = []
    for index in range(12):
        pixels, truth = render_image(diagnosis, image_size=192, seed=7, index=index)
        found = lesion_mask(pixels)
        scores.append(0.0 if found is None else _iou(found, truth))
    print(diagnosis, "IoU per image", [round(s, 2) for s in scores])
    assert np.median(scores) > 0.6
    assert sum(s > 0.4 for s in scores) >= 9


def test_the_mask_of_a_prepared_jpeg_is_at_the_work_size_and_the_same_lesion():
    pixels, truth = render_image("MEL", image_size=300, seed=2, index=1)
    mask = lesion_mask_of_jpeg(encode_jpeg(pixels, 90))
    assert mask is not None and max(mask.shape) == WORK_SIDE
    assert _iou(resize_mask(mask, truth.shape), truth) > 0.6


def test_a_plain_image_has_no_lesion():
    assert lesion_mask(np.full((100, 120, 3), 180, np.uint8)) is None


def test_otsu_splits_two_groups_between_them():
    values = np.concatenate([np.random.default_rng(0).normal(0.2, 0.03, 500), np.random.default_rng(1).normal(0.7, 0.05, 300)])
    assert 0.3 < otsu_threshold(values) < 0.6


def test_lesion_attention_measures_the_mass_inside_and_where_the_peak_is():
    mask = np.zeros((64, 64), bool)
    mask[20:44, 20:44] = True
    on = np.zeros((8, 8), np.float32)
    on[3:5, 3:5] = 1.0
    off = np.zeros((8, 8), np.float32)
    off[7, 0] = 1.0
    inside, outside = lesion_attention(on, mask), lesion_attention(off, mask)
    assert inside.mass_inside > 0.9 and inside.peak_on_lesion
    assert outside.mass_inside < 0.1 and not outside.peak_on_lesion
    assert inside.lesion_share == pytest.approx(24 * 24 / 64 / 64)
    assert lesion_attention(on, None) is None
    assert lesion_attention(np.zeros((8, 8), np.float32), mask) is None
