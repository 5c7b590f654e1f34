"""What every config section shares, and the ISIC and artefact vocabularies the sections check against.

    class ServeConfig(Section): ...      # unknown keys are errors
    ISIC_CLASSES, ISIC_DIAGNOSES, ARTEFACT_KIND_NAMES
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


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


class Section(BaseModel):
    """A config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
