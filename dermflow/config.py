"""The one typed configuration of dermflow.

Every setting lives here, with its default. A YAML file (``--config FILE``) overrides
the defaults, and ``key.path=value`` overrides (CLI ``--set``, specific CLI flags, DAG
params) override the file. Unknown keys are errors, so a typo never silently falls back
to a default.

    cfg = load_config("configs/demo.yaml", ["model.image_size=96", "train.epochs=2"])
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dermflow.backbones import BACKBONE_NAMES, DEFAULT_BACKBONE, backbone_spec
from dermflow.drift_settings import DriftConfig

# ISIC 2019 diagnosis codes, in the column order of the official ground-truth CSV.
ISIC_CLASSES: tuple[str, ...] = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")
# The eight diagnostic classes of the challenge (UNK has no training images).
ISIC_DIAGNOSES: tuple[str, ...] = ISIC_CLASSES[:8]
MALIGNANT: tuple[str, ...] = ("MEL", "BCC", "SCC", "AK")
BENIGN: tuple[str, ...] = ("NV", "BKL", "DF", "VASC")
# Artefacts the painters draw (dermflow/artefacts/artefact_painters.py:ArtefactKind, whose values these are).
ARTEFACT_KIND_NAMES: tuple[str, ...] = ("ruler", "ink", "dark_corners", "gel_bubbles", "hair", "patch")
ArtefactKindName = Literal["ruler", "ink", "dark_corners", "gel_bubbles", "hair", "patch"]
BESIDE_THE_LESION: tuple[str, ...] = ("ruler", "ink", "dark_corners", "patch")  # painters that spare the lesion
# Images declaring more pixels than this are refused before decoding, at ingest and at scoring.
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    """Where the ISIC-layout archive is and how it is ingested."""

    data_root: Path | None = Field(None, description="Folder holding ISIC_2019_Training_Input/ and the two CSVs.")
    images_dir: str = Field("ISIC_2019_Training_Input", description="Image folder inside data_root.")
    ground_truth_csv: str = Field("ISIC_2019_Training_GroundTruth.csv", description="One-hot diagnosis CSV inside data_root.")
    metadata_csv: str = Field("ISIC_2019_Training_Metadata.csv", description="Age, site, sex and lesion id CSV inside data_root.")
    max_side: int = Field(512, gt=0, description="Longer side of the stored images; larger ones are shrunk and re-encoded.")
    jpeg_quality: int = Field(90, ge=1, le=100, description="For re-encoded images; a fitting source JPEG keeps its own coding.")
    eval_fraction: float = Field(0.15, ge=0.0, lt=1.0, description="Lesion-grouped share that chooses the epoch and is gated on.")
    test_fraction: float = Field(
        0.2, ge=0.0, lt=1.0,
        description="Lesion-grouped share held out from training and from the epoch choice: the trust values are fitted "
        "on it (docs/trust.md); 0: none, and they share the eval split.")
    split_seed: int = Field(0, description="Seed of the hash that orders lesion groups into the splits.")
    max_missing_fraction: float = Field(
        0.05, ge=0.0, le=1.0, description="Ingest fails when more CSV rows than this have no image on disk."
    )
    max_image_pixels: int = Field(
        DEFAULT_MAX_IMAGE_PIXELS, gt=0, description="Images declaring more pixels than this are rejected without being decoded."
    )
    num_shards: int = Field(0, ge=0, description="TFRecord shards per split; 0 lets Beam choose.")

    @model_validator(mode="after")
    def _fractions(self) -> "DataConfig":
        if self.eval_fraction + self.test_fraction >= 1.0:
            raise ValueError("data.eval_fraction + data.test_fraction must leave room for a train split")
        return self


class LabelsConfig(_Section):
    """Which diagnoses are kept, and what they are called.

    ``mode: classes`` keeps ``classes`` (each its own label, in that order).
    ``mode: groups`` maps several diagnoses onto one label each (``groups``: label -> codes).
    ``preset`` fills these in: ``mel_nv_bcc`` (default), ``binary`` (malignant vs benign), ``all8``.
    """

    preset: Literal["mel_nv_bcc", "binary", "all8", "custom"] = Field(
        "mel_nv_bcc", description="Fills mode/classes/groups: mel_nv_bcc, binary (malignant vs benign), all8; custom: as given.")
    mode: Literal["classes", "groups"] = Field("classes", description="classes: each kept code its own label; groups: labels of several codes.")
    classes: list[str] = Field(default_factory=lambda: ["MEL", "NV", "BCC"], description="mode classes: the kept ISIC codes, in label order.")
    groups: dict[str, list[str]] = Field(default_factory=dict, description="mode groups: label -> ISIC codes, in label order.")
    positive_label: str = Field("MEL", description="The label ranked in galleries and gated on AUC (e.g. malignant).")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        preset = values.get("preset", "mel_nv_bcc")
        if preset == "binary":
            values.setdefault("mode", "groups")
            values.setdefault("groups", {"malignant": list(MALIGNANT), "benign": list(BENIGN)})
            values.setdefault("positive_label", "malignant")
        elif preset == "all8":
            values.setdefault("mode", "classes")
            values.setdefault("classes", list(ISIC_DIAGNOSES))
        return values

    @model_validator(mode="after")
    def _check(self) -> "LabelsConfig":
        mapping = self.code_to_label()
        unknown = sorted(set(mapping) - set(ISIC_CLASSES))
        if unknown:
            raise ValueError(f"labels: unknown ISIC codes {unknown}; known codes are {list(ISIC_CLASSES)}")
        if len(self.label_names()) < 2:
            raise ValueError("labels: at least two target labels are needed")
        if self.positive_label not in self.label_names():
            raise ValueError(f"labels.positive_label {self.positive_label!r} is not one of {self.label_names()}")
        return self

    def label_names(self) -> list[str]:
        """Target labels in index order."""
        return list(self.groups) if self.mode == "groups" else list(self.classes)

    def code_to_label(self) -> dict[str, str]:
        """ISIC code -> target label, for the codes that are kept."""
        if self.mode == "classes":
            return {code: code for code in self.classes}
        mapping: dict[str, str] = {}
        for label, codes in self.groups.items():
            for code in codes:
                if code in mapping:
                    raise ValueError(f"labels.groups: {code} is in both {mapping[code]!r} and {label!r}")
                mapping[code] = label
        return mapping


class ModelConfig(_Section):
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


class TrainConfig(_Section):
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


class EvalConfig(_Section):
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


class TrustConfig(_Section):
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
        "hod",
        description="hod: the Trainer also trains one abstention output per other ISIC diagnosis of the train split "
                    "(ClassFilter's out-of-scope examples; Roy et al. 2022's hierarchical outlier detection loss), and the "
                    "out-of-scope decision adds their summed probability (memory) to the feature distance (novelty); "
                    "none: the targets only, the feature distance alone. Default hod: on the real sample it flags far more "
                    "of the known other diagnoses at the same retention, and no less novelty (docs/trust.md).",
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


class ScoreConfig(_Section):
    min_batch_size: int = Field(
        32, gt=0, description="RunInference batches hold at least this many images (except a bundle's last); below max: adaptive."
    )
    max_batch_size: int = Field(32, gt=0, description="RunInference batches hold at most this many images.")
    heatmap_png_size: int = Field(64, gt=0, description="Side of the upsampled heatmap PNG stored in Parquet.")
    write_overlays: bool = Field(False, description="Also write a Grad-CAM overlay PNG per image under <output>/overlays/.")
    gallery_size: int = Field(24, ge=0, description="Images in the run's HTML gallery (highest positive_label probability first).")
    max_image_pixels: int = Field(
        DEFAULT_MAX_IMAGE_PIXELS, gt=0, description="Files declaring more pixels than this are rejected without being decoded."
    )
    skip_scored: bool = Field(True, description="Skip images already scored by the same model version (sha256).")
    staging_heartbeat_seconds: float = Field(30.0, gt=0, description="A run touches its _staging/<run_id>/heartbeat this often.")
    staging_dead_after_seconds: float = Field(
        900.0, gt=0, description="A later run deletes the staging of a run whose newest staged file is older than this (it died)."
    )
    progress_seconds: float = Field(
        10.0, gt=0, description="While the Beam job runs, dermflow score prints done/total, files/s and an ETA this often "
        "(when the count changed); the workers update their progress files as often."
    )

    dicom_results: Literal["none", "sr"] = Field("none", description=(
        "'sr': per DICOM input, a DICOM SR (TID 1500) and a Grad-CAM segmentation into score.clinical_results_dir "
        "and, with score.dicomweb_url, the PACS (docs/scoring.md#clinical-results)."))
    fhir_results: bool = Field(False, description="Per scored image: FHIR R4B DiagnosticReport + Observations, NDJSON per run.")
    clinical_results_dir: Path | None = Field(None, description=(
        "Where SRs, segmentations and FHIR go (owner-only, never inside --output); required when either is on."))
    dicomweb_url: str | None = Field(None, description=(
        "DICOMweb root of the PACS to store into (STOW-RS), e.g. http://pacs:8042/dicom-web. Credentials: "
        "DERMFLOW_DICOMWEB_USERNAME/_PASSWORD or _TOKEN, or score.dicomweb_conn_id; never in this URL."))
    dicomweb_conn_id: str | None = Field(None, description="Airflow connection with the DICOMweb login and password.")
    dicomweb_store_attempts: int = Field(3, ge=1, description="STOW-RS tries per image before its store counts as failed.")
    dicomweb_backoff_seconds: float = Field(0.5, ge=0.0, description="Wait before a store's 2nd try; doubled before each next.")

    @field_validator("dicomweb_url")
    @classmethod
    def _dicomweb_url(cls, value: str | None) -> str | None:
        parsed = urlparse(value or "")
        if value is not None and (parsed.scheme not in ("http", "https") or not parsed.netloc):
            raise ValueError("score.dicomweb_url must be an http:// or https:// DICOMweb root, e.g. http://pacs:8042/dicom-web")
        if parsed.password is not None or parsed.username is not None:
            raise ValueError("score.dicomweb_url must not hold credentials (the config is stored with the results and in "
                             "logs): set DERMFLOW_DICOMWEB_USERNAME and DERMFLOW_DICOMWEB_PASSWORD, or score.dicomweb_conn_id")
        return value.rstrip("/") if value else value

    def clinical_results_on(self) -> bool:
        return self.dicom_results != "none" or self.fhir_results

    @model_validator(mode="after")
    def _consistent(self) -> "ScoreConfig":
        if self.clinical_results_on() and self.clinical_results_dir is None:
            raise ValueError("score.clinical_results_dir is required when score.dicom_results is 'sr' or score.fhir_results "
                             "is true (results with patient identification never go under --output)")
        if self.dicomweb_url and self.dicom_results == "none":
            raise ValueError("score.dicomweb_url is set but score.dicom_results is 'none': set score.dicom_results=sr")
        if self.min_batch_size > self.max_batch_size:
            raise ValueError("score.min_batch_size must not exceed score.max_batch_size")
        if self.staging_dead_after_seconds < 3 * self.staging_heartbeat_seconds:
            raise ValueError("score.staging_dead_after_seconds must be at least 3 heartbeats, or a live run's staging could be deleted")
        return self


# Tried on this stack and found to lose data silently or break TFX (docs/deployment.md#beam-runners).
REFUSED_BEAM_RUNNERS: dict[str, str] = {
    "daskrunner": "Beam's DaskRunner drops finish_bundle outputs, computes only the last branch and no-ops io.Read",
    "pysparkrunner": "beam-pyspark-runner pins apache-beam 2.48 and breaks the TFX stack; RunInference fails on it",
}


class BeamConfig(_Section):
    runner: str = Field("DirectRunner", description="Beam runner: DirectRunner (local), FlinkRunner, SparkRunner, DataflowRunner, ...")
    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = Field(
        "multi_processing", description="How the DirectRunner runs its workers.")
    direct_num_workers: int = Field(0, ge=0, description="0: one worker per CPU core.")
    extra_args: list[str] = Field(default_factory=list, description="Passed through to Beam, e.g. --flink_master=...")

    @field_validator("runner")
    @classmethod
    def _supported_runner(cls, value: str) -> str:
        name = value.rsplit(".", 1)[-1].replace("_", "").replace("-", "").lower()
        reason = REFUSED_BEAM_RUNNERS.get(name)
        if reason:
            raise ValueError(
                f"beam.runner {value!r} is refused: {reason}. Use DirectRunner, FlinkRunner, SparkRunner, "
                "PortableRunner or DataflowRunner (docs/deployment.md#beam-runners)"
            )
        return value

    def pipeline_args(self) -> list[str]:
        """Beam's command-line arguments.

        ``DirectRunner`` runs as Beam's FnApiRunner, the engine behind it. Beam's own DirectRunner
        first hands each pipeline to Prism, a Go binary that it downloads from GitHub at run time:
        offline that attempt costs about 0.7 s before it falls back to the FnApiRunner, and online
        the job would run on another engine, which ignores ``direct_running_mode`` and
        ``direct_num_workers``. Name ``PrismRunner`` to get Prism.
        """
        if self.runner != "DirectRunner":
            return [f"--runner={self.runner}", *self.extra_args]
        return [
            "--runner=FnApiRunner",
            f"--direct_running_mode={self.direct_running_mode}",
            f"--direct_num_workers={self.direct_num_workers}",
            *self.extra_args,
        ]


def refuse_password_in_url(url: str | None, setting: str, form: str, password_file: str, env_var: str) -> str | None:
    """Refuses a URL holding a password, saying where the password goes instead."""
    # The whole config travels as JSON into TFX execution properties (MLMD), the registry's
    # config.json and provenance.json, and the logs: a password in a URL would be in all of them.
    if url and urlparse(url).password is not None:
        raise ValueError(
            f"{setting} must not hold a password (the config is stored in ML Metadata, the registry and logs): "
            f"write {form} and put the password in {password_file} or the {env_var} variable"
        )
    return url


class PathsConfig(_Section):
    work_dir: Path = Field(Path("var/work"), description="TFX pipeline root, ML Metadata, checkpoints and logs.")
    registry: Path = Field(Path("var/registry"), description="Where blessed models are pushed (<registry>/<model_name>/<version>/).")
    pipeline_root: Path | None = Field(None, description="TFX pipeline root; default <work_dir>/tfx.")
    metadata_path: Path | None = Field(None, description="ML Metadata SQLite file; default <work_dir>/metadata.sqlite.")
    metadata_connection: str | None = Field(
        None, description="ML Metadata on a shared database, e.g. mysql://user@host:3306/mlmd; overrides metadata_path."
    )
    metadata_password_file: Path | None = Field(
        None, description="KEY=VALUE file whose MLMD_PASSWORD is the mysql:// password, read at connection time "
        "(env DERMFLOW_MLMD_PASSWORD wins); never a password in metadata_connection.",
    )

    @field_validator("metadata_connection")
    @classmethod
    def _no_password_in_the_url(cls, value: str | None) -> str | None:
        return refuse_password_in_url(value, "paths.metadata_connection", "mysql://USER@HOST:PORT/DB",
                                      "paths.metadata_password_file (MLMD_PASSWORD=...)", "DERMFLOW_MLMD_PASSWORD")

    def resolved_pipeline_root(self) -> Path:
        return self.pipeline_root or self.work_dir / "tfx"

    def resolved_metadata_path(self) -> Path:
        return self.metadata_path or self.work_dir / "metadata.sqlite"


class AirflowConfig(_Section):
    schedule: str | None = Field("@weekly", description="The retraining DAG's schedule (cron or preset); null: triggered only.")
    retries: int = Field(2, ge=0, description="Retries of a failed Airflow task.")
    retry_delay_seconds: int = Field(60, gt=0, description="Delay before the first retry.")
    retry_backoff: float = Field(2.0, ge=0.0, description="Multiplier of the delay between retries (0: constant).")
    max_retry_delay_seconds: int = Field(3600, gt=0, description="Longest delay between retries.")
    gpu_nodes: list[str] = Field(default_factory=lambda: ["Trainer"], description="TFX nodes sent to gpu_queue/gpu_pool.")
    gpu_queue: str = Field("gpu", description="Celery queue of the GPU nodes.")
    gpu_pool: str = Field("default_pool", description="Airflow pool of the GPU nodes.")
    default_queue: str = Field("default", description="Celery queue of every other task.")
    score_inputs: list[str] = Field(default_factory=list, description="Folders re-scored when a new model is pushed.")
    score_output: Path = Field(Path("var/scores"), description="The scoring DAG's output folder.")
    score_shards: int = Field(1, ge=1, description="Scoring tasks that share a run (list_shards -> score[N] -> reconcile).")


class ClusterConfig(_Section):
    """The local distributed mode (``dermflow cluster up``): Postgres, Redis, MariaDB, Airflow on Celery (docs/deployment.md)."""

    state_dir: Path = Field(Path("var/cluster"), description="Data dirs, logs, PID files and secrets.env (git-ignored).")
    default_workers: int = Field(1, ge=1, description="Celery workers serving airflow.default_queue.")
    gpu_workers: int = Field(1, ge=0, description="Celery workers serving airflow.gpu_queue.")
    worker_concurrency: int = Field(1, ge=1, description="Task slots per Celery worker.")
    task_heartbeat_timeout_seconds: int = Field(
        60, ge=10, description="A running task silent this long (its worker died) is failed and retried."
    )
    start_timeout_seconds: int = Field(180, gt=0, description="How long `up` waits for every service to be healthy.")
    stop_grace_seconds: int = Field(20, gt=0, description="SIGTERM, then SIGKILL after this long.")
    install_missing: bool = Field(True, description="apt-get install postgresql / redis-server / mariadb-server when missing (root only).")


class ServeConfig(_Section):
    """The web page and JSON API (``dermflow serve``, docs/serving.md)."""

    host: str = Field("127.0.0.1", description="Bind address (IPv6: ::1 or [::1]); not loopback: allow_remote + allowed_hosts.")
    port: int = Field(8765, ge=0, le=65535, description="TCP port (0: any free port).")
    allow_remote: bool = Field(False, description="Permit a non-loopback host (then all but /healthz needs a user or API token).")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host names it answers to (--allowed-host; with allow_remote).")
    require_sign_in: bool = Field(False, description="Ask for a signed-in user or API token on loopback too (dermflow users).")
    tls_certfile: Path | None = Field(None, description="PEM certificate for HTTPS (uvicorn ssl_certfile).")
    tls_keyfile: Path | None = Field(None, description="PEM private key for HTTPS (uvicorn ssl_keyfile).")
    max_upload_bytes: int = Field(20_000_000, gt=0, description="Uploads larger than this get 413.")
    max_form_parts: int = Field(8, gt=0, description="Parts (or fields) a form may have; more: 400, parsing stops there.")
    max_batch_size: int = Field(16, gt=0, description="Requests batched into one model call at most.")
    batch_wait_ms: float = Field(10.0, ge=0.0, description="How long the first request of a batch waits for others.")
    queue_size: int = Field(64, gt=0, description="Requests waiting for the model at most; beyond: 503 with Retry-After.")
    retry_after_seconds: int = Field(1, ge=1, description="Retry-After of a 503.")
    request_timeout_seconds: float = Field(60.0, gt=0.0, description="A request waiting longer than this for the model gets 503.")
    follow_latest: bool = Field(False, description="Switch to the registry's LATEST when it moves (else: stay pinned).")
    follow_interval_seconds: float = Field(5.0, gt=0.0, description="How often follow_latest looks at LATEST.")
    page_size: int = Field(50, gt=0, le=1000, description="Rows per page of /results.")
    thumbnail_size: int = Field(160, gt=0, description="Side of the results thumbnails.")

    @field_validator("host", mode="before")
    @classmethod
    def _bare_ipv6(cls, value: Any) -> Any:  # "[::1]" -> "::1", as uvicorn takes it
        return value[1:-1] if isinstance(value, str) and value.startswith("[") and value.endswith("]") else value


# Why a verdict's diagnosis is known (dermflow/review/review_enums.py: VerdictBasis, the same values).
VERDICT_BASES: tuple[str, ...] = ("histopathology", "consensus", "follow_up", "single_expert")
REVIEW_DATABASE_SCHEMES: tuple[str, ...] = ("sqlite", "postgresql", "postgresql+psycopg2")


class ReviewConfig(_Section):
    """The review store: accounts, sign-ins and clinicians' verdicts (``dermflow users``, ``verdicts``, docs/review.md)."""

    database_url: str = Field(
        "sqlite:///var/review/review.sqlite",
        description="sqlite:///PATH (WAL: a local disk only) or postgresql+psycopg2://USER@HOST:PORT/DB, no password.",
    )
    password_file: Path | None = Field(
        None, description="KEY=VALUE file whose REVIEW_DB_PASSWORD is the PostgreSQL password, read at connection time "
        "(env DERMFLOW_REVIEW_DB_PASSWORD wins); never a password in database_url.",
    )
    session_hours: float = Field(12.0, gt=0, description="A sign-in expires this long after it was made.")
    login_max_failures: int = Field(5, ge=1, description="Failed sign-ins of one name within login_window_seconds before refusing.")
    login_window_seconds: int = Field(900, gt=0, description="The window login_max_failures counts in.")
    queue_melanoma_band: list[float] = Field(
        default_factory=lambda: [0.3, 0.7], description="[low, high]: rows whose melanoma probability lies inside go to the queue."
    )
    audit_share: float = Field(0.05, ge=0.0, le=1.0, description="Random share of confident rows sent to the queue (random_audit).")
    audit_seed: int = Field(0, description="Seed of that random choice (the same seed picks the same rows).")
    training_bases: list[Literal[*VERDICT_BASES]] = Field(
        default_factory=lambda: ["histopathology", "consensus"], min_length=1,
        description="Verdict bases whose cases become training data (issue 27); the image's current verdict must have one.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = urlparse(value).scheme
        if scheme not in REVIEW_DATABASE_SCHEMES:
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in REVIEW_DATABASE_SCHEMES)}")
        if scheme == "sqlite" and not value.removeprefix("sqlite://").lstrip("/"):
            raise ValueError("sqlite:// needs a file (sqlite:///var/review/review.sqlite): verdicts must persist")
        return refuse_password_in_url(value, "review.database_url", "postgresql+psycopg2://USER@HOST:PORT/DB",
                                      "review.password_file (REVIEW_DB_PASSWORD=...)", "DERMFLOW_REVIEW_DB_PASSWORD")

    @field_validator("queue_melanoma_band")
    @classmethod
    def _band(cls, value: list[float]) -> list[float]:
        if len(value) != 2 or not 0.0 <= value[0] < value[1] <= 1.0:
            raise ValueError("must be [low, high] with 0 <= low < high <= 1")
        return value


class RetrainConfig(_Section):
    """Continuous training: spans, the reviewed cases as training data, what starts a retraining, and the warm start's
    schedule (docs/training.md#continuous-training)."""

    reviewed_slice_fraction: float = Field(
        0.2, ge=0.0, lt=1.0,
        description="Share of the reviewed cases' lesion groups held out as the reviewed slice (chosen by a hash of the "
        "group's key, fixed once chosen), measured beside the test split; 0: none.")
    source_roots: list[Path] = Field(
        default_factory=list,
        description="Folders the verdicts' image paths (relative to the scoring input) are read from, to write the "
        "reviewed cases' span; empty: airflow.score_inputs. Kept web uploads come from the review store.")
    min_new_verdicts: int = Field(
        50, ge=1,
        description="The watcher DAG emits the training-data asset event once this many images have a current verdict "
        "with one of review.training_bases recorded since the last reviewed-cases span.")
    min_interval_hours: float = Field(
        24.0, ge=0.0,
        description="A scheduled or asset-triggered retraining this soon after the last ingest is skipped (a manual "
        "trigger always runs); 0: no limit.")
    watch_schedule: str = Field("@hourly", description="The watcher DAG's schedule (cron or preset).")
    warm_start_head_epochs: int = Field(
        0, ge=0, description="Warm start: phase 1 (head only) epochs; the head comes trained.")
    warm_start_fine_tune_epochs: int = Field(
        1, ge=0, description="Warm start: phase 2 epochs, fine_tune_layers of the backbone as in train.")
    warm_start_learning_rate: float = Field(
        1e-4, gt=0, description="Warm start: phase 2 peak learning rate (train.fine_tune_schedule).")
    warm_start_feature_cache: bool = Field(
        False, description="Warm start: train.feature_cache for its few epochs (the cache costs four passes over the "
        "train split, more than two epochs).")


class DermflowConfig(_Section):
    pipeline_name: str = Field("dermflow", description="TFX pipeline name (ML Metadata contexts).")
    model_name: str = Field("dermflow_mobilenet_v2", description="Registry name the pushed versions go under.")
    data: DataConfig = Field(default_factory=DataConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    trust: TrustConfig = Field(default_factory=TrustConfig)
    beam: BeamConfig = Field(default_factory=BeamConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    airflow: AirflowConfig = Field(default_factory=AirflowConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)

    @model_validator(mode="before")
    @classmethod
    def _apply_train_preset(cls, values: Any) -> Any:
        """Fills ``train.preset``'s settings into ``model`` and ``train`` where the config names none."""
        if not isinstance(values, dict):
            return values
        train = values.get("train")
        if isinstance(train, BaseModel):
            return values  # already validated: its preset was applied then
        preset = (train or {}).get("preset", DEFAULT_TRAIN_PRESET)
        filled = TRAIN_PRESETS.get(preset)
        if not filled:
            return values
        values = dict(values)
        for section, settings in filled.items():
            given = values.get(section)
            if isinstance(given, BaseModel):
                continue
            merged = dict(given or {})
            for key, value in settings.items():
                merged.setdefault(key, value)
            values[section] = merged
        return values

    def to_json(self) -> str:
        """Serialises the whole config; ``DermflowConfig.from_json`` reads it back (TFX exec properties use this)."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> "DermflowConfig":
        return cls.model_validate(json.loads(text))


class ConfigError(ValueError):
    """A configuration file or override is wrong; the message says which key and why."""


class ConfigYamlLoader(yaml.SafeLoader):
    """YAML as dermflow's config reads it: only ``true``/``false`` are booleans (YAML 1.2), so ``off``, ``on``,
    ``yes`` and ``no`` reach string-valued keys as written (``train.mixed_precision: off``); a boolean key
    still takes them, as pydantic reads those words."""


ConfigYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":  # the bool resolver, keyed by first character, for the YAML 1.2 words only
    ConfigYamlLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list(_first))


def read_config_yaml(text: str) -> Any:
    """A config file's or a ``--set`` value's YAML, read by :class:`ConfigYamlLoader`."""
    return yaml.load(text, Loader=ConfigYamlLoader)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``a.b=value`` -> (["a", "b"], value); the value is read as a config file's YAML (numbers, lists, null)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key.path=value")
    key, raw = item.split("=", 1)
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise ConfigError(f"override {item!r} has an empty key")
    try:
        value = read_config_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for item in overrides:
        path, value = parse_override(item)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[path[-1]] = value
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> DermflowConfig:
    """Defaults, then the YAML file at ``path`` (if any), then ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        loaded = read_config_yaml(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        data = loaded
    apply_overrides(data, list(overrides or []))
    try:
        return DermflowConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {validation_summary(exc)}") from exc


def validation_summary(exc: ValidationError) -> str:
    """One line naming every bad key: ``model.image_size: ... (got 64); train.epochs: unknown key``."""
    parts = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            parts.append(f"{key}: unknown key")
            continue
        message = error["msg"].removeprefix("Value error, ")
        got = "" if error["type"].startswith("value_error") else f" (got {error.get('input')!r})"
        parts.append(f"{key}: {message}{got}")
    return "; ".join(parts)
