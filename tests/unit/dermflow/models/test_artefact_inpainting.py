"""The inpainting input layer (model.inpaint_artefacts): thin dark lines go, a lesion-sized dark disk stays."""
from __future__ import annotations

import keras
import numpy as np

from dermflow.config import ModelConfig
from dermflow.models import build_classifier, load_keras_model
from dermflow.models.artefact_inpainting import ArtefactInpainting
from dermflow.models.skin_lesion_classifier import INPAINTING_LAYER, backbone_layer_names


def _skin_with_a_line_and_a_disk(size: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pixels = np.full((1, size, size, 3), 200.0, np.float32)
    line = np.zeros((size, size), bool)
    line[10:12, 5:90] = True  # a ruler's edge, 2 px
    yy, xx = np.mgrid[0:size, 0:size]
    disk = (yy - 60) ** 2 + (xx - 50) ** 2 < 18 ** 2
    pixels[0][line] = 30.0
    pixels[0][disk] = 70.0
    return pixels, line, disk


def test_thin_dark_lines_are_closed_and_a_lesion_sized_disk_is_kept():
    pixels, line, disk = _skin_with_a_line_and_a_disk()
    out = np.asarray(ArtefactInpainting()(pixels))[0]
    assert np.abs(out[line] - 200).max() < 20
    inner = np.zeros_like(disk)
    yy, xx = np.mgrid[0:96, 0:96]
    inner[(yy - 60) ** 2 + (xx - 50) ** 2 < 14 ** 2] = True
    np.testing.assert_allclose(out[inner], 70.0, atol=1.0)
    far = ~line & ~disk
    far[8:14, :] = False
    np.testing.assert_allclose(out[far], 200.0, atol=1.0)


def test_the_classifier_carries_the_layer_only_when_asked_and_reloads_with_it(tmp_path):
    cfg = ModelConfig(backbone="small_cnn", weights="none", image_size=32, inpaint_artefacts=True)
    built = build_classifier(cfg, 3)
    assert built.model.layers[1].name == INPAINTING_LAYER
    assert INPAINTING_LAYER not in backbone_layer_names(built.model)
    path = tmp_path / "m.keras"
    built.model.save(path)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(load_keras_model(path)(pixels), built.model(pixels), atol=1e-5)
    plain = build_classifier(ModelConfig(backbone="small_cnn", weights="none", image_size=32), 3)
    assert INPAINTING_LAYER not in [layer.name for layer in plain.model.layers]
    assert not isinstance(plain.model.layers[1], ArtefactInpainting) and isinstance(built.model.layers[1], keras.layers.Layer)
