import numpy as np
import pytest
from model_test_utils import random_pixels

from dermflow.backbones import BACKBONES
from dermflow.config import ModelConfig
from dermflow.models import build_classifier


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_every_declared_backbone_builds_at_its_smallest_input_and_runs_a_forward_pass(backbone):
    size, gradcam_layer = BACKBONES[backbone].min_image_size, BACKBONES[backbone].gradcam_layer
    cfg = ModelConfig(backbone=backbone, alpha=0.35, image_size=size, weights="none")
    built = build_classifier(cfg, num_classes=4)
    probabilities = built.model.predict(random_pixels(2, size), verbose=0)
    assert probabilities.shape == (2, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert built.gradcam_layer == gradcam_layer
    assert built.backbone == backbone
    assert len(built.model.get_layer(gradcam_layer).output.shape) == 4


@pytest.mark.parametrize("backbone", ["inception_v3", "vgg19"])
def test_keras_application_backbones_take_a_weights_file_or_none(backbone, tmp_path):
    cfg = ModelConfig(backbone=backbone, image_size=75, weights=str(tmp_path / "missing.h5"))
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        build_classifier(cfg, 3)
