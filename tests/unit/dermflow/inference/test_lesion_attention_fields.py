"""The per-image attention fields of a prediction: Grad-CAM mass in the Otsu lesion mask, peak off the lesion."""
from __future__ import annotations

import numpy as np

from dermflow.imaging import encode_jpeg
from dermflow.inference.lesion_predictor import LesionPrediction, attention_fields
from dermflow.synthetic.photo_renderer import render_image


def _centre_cam(hot_corner: bool) -> np.ndarray:
    cam = np.zeros((7, 7), np.float32)
    if hot_corner:
        cam[6, 0] = 1.0
    else:
        cam[2:5, 2:5] = 1.0
    return cam


def _lesion_cam(mask: np.ndarray) -> np.ndarray:
    """The lesion itself at Grad-CAM resolution (14 x 14): a model that looks at the lesion."""
    return mask.reshape(14, mask.shape[0] // 14, 14, mask.shape[1] // 14).mean(axis=(1, 3)).astype(np.float32)


def test_a_heatmap_on_the_lesion_and_one_on_the_corner():
    pixels, mask = render_image("NV", image_size=168, seed=0, index=4)
    jpeg = encode_jpeg(pixels, 92)
    on = attention_fields(jpeg, _lesion_cam(mask))
    off = attention_fields(jpeg, _centre_cam(hot_corner=True))
    assert on["gradcam_in_lesion"] > 0.6 and on["attention_off_lesion"] is False
    assert off["gradcam_in_lesion"] < 0.2 and off["attention_off_lesion"] is True
    assert 0.05 < on["lesion_area"] < 0.9 and on["lesion_area"] == off["lesion_area"]


def test_without_a_lesion_the_fields_stay_empty():
    jpeg = encode_jpeg(np.full((64, 64, 3), 170, np.uint8), 92)
    assert attention_fields(jpeg, _centre_cam(False)) == {}
    prediction = LesionPrediction(np.array([0.5, 0.5], np.float32), 0, "MEL", _centre_cam(False))
    assert prediction.gradcam_in_lesion is None and prediction.attention_off_lesion is None
