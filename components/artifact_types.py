"""dermflow's own TFX artifact types, shared by the components (as ``tfx.types.standard_artifacts`` is).

    label_vocabulary=types.Channel(type=LabelVocabulary)
"""
from __future__ import annotations

from tfx import types


class LabelVocabulary(types.Artifact):
    """``labels.txt`` (one label per line, index order) and ``labels.json`` (labels, code_to_label, counts)."""

    TYPE_NAME = "dermflow.LabelVocabulary"


class IngestReport(types.Artifact):
    """``report.json`` (counts per class and split, rejects with reasons) and ``summary.txt``."""

    TYPE_NAME = "dermflow.IngestReport"


class ArtefactReport(types.Artifact):
    """``artefact_check.json`` (figures per artefact and class, the gate), ``measurements.npz``, ``examples/*.png``;
    custom property ``passed`` (1/0)."""

    TYPE_NAME = "dermflow.ArtefactReport"
