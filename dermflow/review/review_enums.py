"""The closed vocabularies of the review store: who may do what, and what a verdict says and why.

    Role("reviewer").may_record_verdicts          # True
    VerdictDiagnosis.parse("mel")                  # VerdictDiagnosis.MEL

Each is a ``StrEnum``: its value is what the database, the JSON API, the CLI and the export hold.
"""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Viewers read; reviewers also record verdicts; admins also manage accounts and reload the model."""

    VIEWER = "viewer"
    REVIEWER = "reviewer"
    ADMIN = "admin"

    @property
    def may_record_verdicts(self) -> bool:
        return self in (Role.REVIEWER, Role.ADMIN)

    @property
    def may_manage(self) -> bool:
        """Accounts, model reloads: admins only."""
        return self is Role.ADMIN


class VerdictBasis(StrEnum):
    """How the diagnosis of a verdict is known (the same values as ``dermflow.config.VERDICT_BASES``)."""

    HISTOPATHOLOGY = "histopathology"
    CONSENSUS = "consensus"
    FOLLOW_UP = "follow_up"
    SINGLE_EXPERT = "single_expert"


class VerdictDiagnosis(StrEnum):
    """ISIC 2019's eight diagnostic classes (``dermflow.config.ISIC_DIAGNOSES``), or OTHER with free text."""

    MEL = "MEL"
    NV = "NV"
    BCC = "BCC"
    AK = "AK"
    BKL = "BKL"
    DF = "DF"
    VASC = "VASC"
    SCC = "SCC"
    OTHER = "OTHER"

    @classmethod
    def parse(cls, value: str) -> "VerdictDiagnosis":
        """Case-insensitive: ``mel``, ``MEL`` and ``other`` are accepted."""
        return cls(str(value).strip().upper())


class QueueReason(StrEnum):
    """Why the case was in front of the reviewer when the verdict was recorded (set by the web page or API)."""

    OUT_OF_SCOPE = "out_of_scope"  # the queue: the model flagged the image as outside its classes
    PREDICTION_SET = "prediction_set"  # the queue: the conformal set is not exactly one label
    MELANOMA_BAND = "melanoma_band"  # the queue: melanoma probability inside review.queue_melanoma_band
    ATTENTION_OFF_LESION = "attention_off_lesion"  # the queue: the Grad-CAM's peak lies off the lesion mask
    RANDOM_AUDIT = "random_audit"  # the queue: a random share of confident rows (review.audit_share)
    UPLOAD = "upload"  # a one-off upload on the web page
    DIRECT = "direct"  # opened directly (a result page, the JSON API), not through the queue

    @property
    def group(self) -> str:
        """``queue``, ``random_audit`` or ``other``: the groups reviewed performance is reported in, apart."""
        if self is QueueReason.RANDOM_AUDIT:
            return "random_audit"
        if self in (QueueReason.OUT_OF_SCOPE, QueueReason.PREDICTION_SET, QueueReason.MELANOMA_BAND,
                    QueueReason.ATTENTION_OFF_LESION):
            return "queue"
        return "other"
