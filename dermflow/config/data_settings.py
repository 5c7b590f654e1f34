"""The ``data`` and ``labels`` sections: where the archive is, how it is split, which classes are reported.

    cfg.data.data_root, cfg.data.test_fraction; cfg.labels.label_names()
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from dermflow.config.config_base import (
    BENIGN,
    DEFAULT_MAX_IMAGE_PIXELS,
    ISIC_CLASSES,
    ISIC_DIAGNOSES,
    MALIGNANT,
    Section,
)


class DataConfig(Section):
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


class LabelsConfig(Section):
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
