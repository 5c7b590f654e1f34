"""The ``model``, ``train``, ``eval`` and ``trust`` sections: what is trained, how, and what it must pass.

    cfg.model.image_size, cfg.train.preset (TRAIN_PRESETS), cfg.eval.max_artefact_flip_rate, cfg.trust.abstention
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from dermflow.backbones import BACKBONE_NAMES, DEFAULT_BACKBONE, backbone_spec
from dermflow.config.config_base import (
    ARTEFACT_KIND_NAMES,
    ArtefactKindName,
    BESIDE_THE_LESION,
    ISIC_DIAGNOSES,
    Section,
)


class ModelConfig(Section):
    backbone: Literal[BACKBONE_NAMES] = Field(DEFAULT_BACKBONE, description="Each one declared in dermflow/backbones/.")
    alpha: float = Field(1.0, gt=0.0, description="MobileNetV2 width multiplier.")
    image_size: int = Field(225, ge=32, description="Square input side in pixels (32k+1 matches torchvision best).")
    weights: str = Field("imagenet", description="'imagenet', 'none', or a path to a Keras .h5 weights file.")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="Dropout before the output layer.")
    gradcam_layer: str | None = Field(None, description="Layer whose activations Grad-CAM uses; None: the backbone's default.")
    inpaint_artefacts: bool = Field(
        False,
        description="A layer at the model's input replaces thin dark structures (hair, ruler ticks, ink lines) by the "
        "image's morphological closing (DullRazor-like), so training, TFMA and scoring all see them removed. The remedy "
        "compared with train.artefact_augmentation and not kept (docs/trust.md, 'Artefacts').",
    )

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str) -> str:
        if value not in ("imagenet", "none") and not value.endswith((".h5", ".weights.h5", ".keras")):
            raise ValueError("model.weights must be 'imagenet', 'none' or a path to a .h5 file")
        return value

    @model_validator(mode="after")
    def _image_size_fits_backbone(self) -> "ModelConfig":
        minimum = backbone_spec(self.backbone).min_image_size
        if self.image_size < minimum:
            raise ValueError(f"model.image_size {self.image_size} is below {minimum}, the smallest input {self.backbone} accepts")
        return self


# What ``train.preset`` fills in (keys the config names itself win). ``fast``: the top 30 layers
# at 161 px, flips only, few epochs, trunk features cached (docs/benchmarks.md, "Trainer: presets");
# ``full``: the whole backbone at 225 px, heavy augmentation, 2 + 12 epochs (runs 3-9 there).
TRAIN_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "fast": {
        "model": {"image_size": 161},
        "train": {
            "head_epochs": 2, "fine_tune_epochs": 8, "fine_tune_layers": 30, "fine_tune_learning_rate": 3e-4,
            "augment_rotation": 0.0, "augment_zoom": 0.0, "augment_color": 0.0, "feature_cache": True,
        },
    },
    "full": {
        "model": {"image_size": 225},
        "train": {
            "head_epochs": 2, "fine_tune_epochs": 12, "fine_tune_layers": "all", "fine_tune_learning_rate": 1e-4,
            "augment_rotation": 0.5, "augment_zoom": 0.1, "augment_color": 0.1, "feature_cache": False,
        },
    },
}
DEFAULT_TRAIN_PRESET = "full"


class TrainConfig(Section):
    """How the Trainer trains. ``preset`` fills the settings of :data:`TRAIN_PRESETS` (and
    ``model.image_size``) that the config does not name itself: ``full`` (default) or ``fast``;
    ``custom`` fills nothing beyond the field defaults (which are ``full``'s)."""

    preset: Literal["fast", "full", "custom"] = Field(
        DEFAULT_TRAIN_PRESET, description="Fills the settings of TRAIN_PRESETS the config does not name: full, fast; custom: none.")
    batch_size: int = Field(32, gt=0, description="Per-replica batch size; the global batch scales with replicas.")
    head_epochs: int = Field(2, ge=0, description="Phase 1: the head alone, backbone frozen.")
    fine_tune_epochs: int = Field(12, ge=0, description="Phase 2: the backbone too (fine_tune_layers of it).")
    fine_tune_layers: Annotated[int, Field(ge=0)] | Literal["all"] = Field(
        "all", description="Phase 2 trains this many backbone layers from the top (BatchNorm stays frozen), or all of them."
    )
    learning_rate: float = Field(1e-3, gt=0, description="Phase 1 (head) learning rate.")
    fine_tune_learning_rate: float = Field(1e-4, gt=0, description="Phase 2 (fine-tuning) peak learning rate.")
    fine_tune_schedule: Literal["constant", "cosine"] = Field(
        "cosine", description="Phase 2 learning rate: cosine decay to 0 over fine_tune_epochs, or constant."
    )
    fine_tune_warmup_epochs: int = Field(
        0, ge=0, description="Phase 2 learning rate first rises linearly from 0 over this many of its epochs (at most half the phase)."
    )
    weight_averaging: Literal["ema", "none"] = Field(
        "none", description="ema: evaluate, keep and export an exponential moving average of the weights."
    )
    ema_epochs: float = Field(
        1.0, gt=0.0, description="The moving average's time constant in epochs: momentum 1 - 1 / (ema_epochs x steps per epoch)."
    )
    steps_per_epoch: int | None = Field(None, gt=0, description="None: one pass over the train split.")
    imbalance: Literal["class_weight", "oversample", "none"] = Field(
        "class_weight", description="Class imbalance: balanced class weights in the loss, oversampling, or none.")
    augment: bool = Field(True, description="Random flips, rotation, zoom and colour (the augment_* factors) while training.")
    augment_rotation: float = Field(0.5, ge=0.0, le=1.0, description="RandomRotation factor, a fraction of a full turn (0.5: any angle).")
    augment_zoom: float = Field(0.1, ge=0.0, lt=1.0, description="RandomZoom factor.")
    augment_color: float = Field(0.1, ge=0.0, le=1.0, description="RandomBrightness and RandomContrast factor.")
    early_stopping_patience: int = Field(5, ge=1, description="Epochs without a better eval balanced accuracy before a phase stops.")
    mixed_precision: Literal["auto", "on", "off"] = Field("auto", description="float16 compute: auto turns it on when a GPU is present.")
    shuffle_buffer: int = Field(2048, gt=0, description="Examples in the training shuffle buffer.")
    cache: bool = Field(True, description="Cache decoded, resized images in memory when they fit.")
    feature_cache: bool = Field(
        False,
        description="Compute the frozen lower backbone's activations once per image and flip, in memory, and train the "
        "trainable top on them (needs augmentation limited to flips: augment_rotation, augment_zoom and augment_color 0).",
    )
    artefact_augmentation: bool = Field(
        True,
        description="Paste random artefacts (artefact_kinds) onto training images of every class, so that no artefact "
        "carries label information (docs/trust.md, 'Artefacts'); with feature_cache, each cached flip of an image gets "
        "its own random artefacts. Needs augment.",
    )
    artefact_probability: float = Field(
        0.2, ge=0.0, le=1.0,
        description="Each of artefact_kinds is pasted on this share of training images, independently (of the other "
        "kinds and of the class): with 6 kinds at 0.2, 26% of images stay clean.",
    )
    artefact_kinds: list[ArtefactKindName] = Field(
        default_factory=lambda: list(ARTEFACT_KIND_NAMES), description="Kinds train.artefact_augmentation pastes."
    )
    seed: int = Field(0, description="Seed of the weights' initialisation, shuffling and augmentation.")
    warm_start: Literal["last_blessed", "none"] = Field(
        "last_blessed",
        description="last_blessed: fine-tune from the last blessed model's weights when its backbone and classes match, "
        "on the retrain.warm_start_* schedule (else one line why, and ImageNet); none: always from ImageNet.",
    )

    @model_validator(mode="after")
    def _feature_cache_augmentation(self) -> "TrainConfig":
        if self.feature_cache and self.augment and (self.augment_rotation or self.augment_zoom or self.augment_color):
            raise ValueError(
                "train.feature_cache precomputes flips only: set train.augment_rotation, train.augment_zoom and "
                "train.augment_color to 0 (train.preset=fast does), or train.feature_cache=false"
            )
        return self

    def ema_momentum(self, steps_per_epoch: int) -> float:
        return max(0.0, 1.0 - 1.0 / (self.ema_epochs * steps_per_epoch))


class EvalConfig(Section):
    min_balanced_accuracy: float = Field(0.5, ge=0.0, le=1.0, description="Absolute gate on ISIC balanced accuracy.")
    max_regression: float = Field(0.01, ge=0.0, description="Allowed drop in balanced accuracy vs the last blessed model.")
    max_artefact_flip_rate: float | None = Field(
        0.05, ge=0.0, le=1.0,
        description="ArtefactCheck gate: not blessed when pasting any of artefact_gate_kinds onto the eval split's "
        "images changes more than this share of predicted labels (mean of the per-class shares); null: measured, not gated.",
    )
    artefact_check_images: int = Field(
        200, ge=0, description="Eval images per class the artefact check pastes artefacts onto (the first ones); 0: no check."
    )
    artefact_kinds: list[ArtefactKindName] = Field(
        default_factory=lambda: list(ARTEFACT_KIND_NAMES), description="Artefacts the artefact check pastes and reports."
    )
    artefact_gate_kinds: list[ArtefactKindName] = Field(
        default_factory=lambda: list(BESIDE_THE_LESION),
        description="Of artefact_kinds (others are not pasted, so not gated), those gated on: by default the ones drawn "
        "beside the lesion (ruler, ink, "
        "dark_corners, patch). Hair and gel bubbles lie over the lesion and may hide what a diagnosis rests on, so a "
        "changed answer there is measured and reported, not a shortcut by itself (docs/trust.md, 'Artefacts').",
    )
    artefact_seed: int = Field(0, description="Seed of the artefacts the check draws (each image and kind its own).")
    age_buckets: list[int] = Field(default_factory=lambda: [30, 45, 60, 75], description="Upper bounds of the age slices TFMA reports.")


class TrustConfig(Section):
    """Calibration, out-of-scope flag and conformal prediction sets, fitted after training (docs/trust.md)."""

    enabled: bool = Field(True, description="Fit them after training; off: identity temperature, nothing flagged, full sets.")
    fit_split: Literal["auto", "test", "eval"] = Field(
        "auto", description="Held-out split they are fitted on; auto: the test split when ingest made one, else eval (shared)."
    )
    in_scope_retention: float = Field(
        0.95, gt=0.0, lt=1.0, description="Share of held-out in-scope images the out-of-scope threshold keeps."
    )
    conformal_coverage: float = Field(
        0.90, gt=0.0, lt=1.0, description="Probability that the prediction set holds the true label (marginal)."
    )
    abstention: Literal["hod", "none"] = Field(
        "none",
        description="hod: the Trainer also trains one abstention output per other ISIC diagnosis of the train split "
                    "(ClassFilter's out-of-scope examples; Roy et al. 2022's hierarchical outlier detection loss), and the "
                    "out-of-scope decision adds their summed probability (memory) to the feature distance (novelty); "
                    "none: the targets only, the feature distance alone. Default none: on the real sample (3 seeds) hod "
                    "flags 45% of the known other diagnoses against 21%, but costs 0.035 of the targets' balanced accuracy "
                    "and 0.048 of MEL AUC (docs/trust.md).",
    )
    abstention_coarse_weight: float = Field(
        1.0, ge=0.0,
        description="Weight of HOD's coarse term, -log(summed probability of the example's group: targets or other "
                    "diagnoses), beside the fine-grained cross-entropy over every output; 0: the fine term alone.",
    )
    abstention_exclude: list[str] = Field(
        default_factory=list,
        description="Other diagnoses (ISIC codes) given no abstention output: their images are not trained on (the "
                    "benchmark's leave-one-diagnosis-out novelty runs).",
    )
    ece_bins: int = Field(15, ge=2, description="Equal-width confidence bins of the expected calibration error.")
    max_ece: float | None = Field(
        None, ge=0.0, le=1.0, description="Evaluator gate: not blessed when the judged split's top-label ECE (calibrated) is above this (the test "
        "split, half of which fitted the temperature: lenient; docs/training.md#gates-blessing)."
    )
    seed: int = Field(0, description="Seed of the random A/B halves of the held-out data.")

    @field_validator("abstention_exclude")
    @classmethod
    def _isic_diagnoses(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ISIC_DIAGNOSES))
        if unknown:
            raise ValueError(f"unknown ISIC diagnoses {unknown}; one of {list(ISIC_DIAGNOSES)}")
        return value
