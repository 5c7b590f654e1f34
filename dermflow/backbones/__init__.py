"""Every backbone dermflow trains, one declaration each: its builder, Grad-CAM layer, smallest input and weights.

    spec = backbone_spec(cfg.model.backbone)
    features = spec.build(preprocessed, alpha=cfg.model.alpha, weights_path=None)   # the builder imports Keras
    BACKBONE_NAMES                                    # what model.backbone accepts (dermflow.config reads it)

Adding a backbone: a module here that declares ``SPEC`` (a :class:`BackboneSpec`), its name in
``_DECLARED`` below, and its row in docs/models.md. The config's allowed values, the model builder
(:mod:`dermflow.models.skin_lesion_classifier`) and the one-second weights check
(:mod:`dermflow.weights.backbone_weights`) all read these declarations. Nothing here imports Keras
until a builder runs, so the config and the checks before a command stay fast.
"""
from __future__ import annotations

from dermflow.backbones import inception_v3, mobilenet_v2, small_cnn, vgg19
from dermflow.backbones.backbone_spec import BackboneSpec, ImageNetWeights

_DECLARED: tuple[BackboneSpec, ...] = (mobilenet_v2.SPEC, inception_v3.SPEC, vgg19.SPEC, small_cnn.SPEC)
BACKBONES: dict[str, BackboneSpec] = {spec.name: spec for spec in _DECLARED}
BACKBONE_NAMES: tuple[str, ...] = tuple(BACKBONES)
DEFAULT_BACKBONE = mobilenet_v2.SPEC.name

__all__ = ["BACKBONES", "BACKBONE_NAMES", "DEFAULT_BACKBONE", "BackboneSpec", "ImageNetWeights", "backbone_spec"]


def backbone_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(f"unknown model.backbone {name!r}; known: {sorted(BACKBONES)}")
    return BACKBONES[name]
