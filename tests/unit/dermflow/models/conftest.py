"""Tiny models for the model tests: 32-64 px, alpha 0.35, no pretrained weights."""
from __future__ import annotations

import pytest
from model_test_utils import TINY_SIZE

from dermflow.config import ModelConfig


@pytest.fixture
def tiny_model_cfg() -> ModelConfig:
    return ModelConfig(backbone="mobilenet_v2", alpha=0.35, image_size=TINY_SIZE, weights="none")
