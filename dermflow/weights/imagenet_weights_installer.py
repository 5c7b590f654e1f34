"""``dermflow weights install``: ImageNet MobileNetV2 weights where Keras looks for them."""
from __future__ import annotations

from pathlib import Path


def install_imagenet_weights(
    alpha: float = 1.0,
    rows: list[int] | None = None,
    source: str = "auto",
    checkpoint: str | Path | None = None,
    keras_home: str | Path | None = None,
) -> list[Path]:
    raise NotImplementedError("issue 3: in progress")
