"""Why an image was flagged out of scope: which of the decision's two signals fired, and how to say it.

    reason = out_of_scope_reason(other_diagnosis=True, novel=False)   # OutOfScopeReason.OTHER_DIAGNOSIS
    reason.value          # "other_diagnosis": the Parquet column out_of_scope_reason, the API's field
    WORDING[reason]       # "Looks like another diagnosis, one this model does not report"

``other_diagnosis``: memory, the abstention outputs' probability is unusual for held-out in-scope
images (the image looks like one of the archive's other diagnoses, e.g. a benign keratosis).
``novel``: novelty, the feature distance is (the image looks unlike anything the model was trained
on: a photo, a diagnosis it never saw). docs/trust.md.
"""
from __future__ import annotations

from enum import Enum


class OutOfScopeReason(str, Enum):
    OTHER_DIAGNOSIS = "other_diagnosis"
    NOVEL = "novel"
    OTHER_DIAGNOSIS_AND_NOVEL = "other_diagnosis_and_novel"

    def __str__(self) -> str:
        return self.value


WORDING: dict[OutOfScopeReason, str] = {
    OutOfScopeReason.OTHER_DIAGNOSIS: "Looks like another diagnosis, one this model does not report",
    OutOfScopeReason.NOVEL: "Looks unlike anything the model knows",
    OutOfScopeReason.OTHER_DIAGNOSIS_AND_NOVEL: "Looks like another diagnosis, and unlike anything the model knows",
}


def out_of_scope_reason(other_diagnosis: bool, novel: bool) -> OutOfScopeReason | None:
    """The reason for a flag raised by these signals; None when neither fired (in scope)."""
    if other_diagnosis and novel:
        return OutOfScopeReason.OTHER_DIAGNOSIS_AND_NOVEL
    if other_diagnosis:
        return OutOfScopeReason.OTHER_DIAGNOSIS
    if novel:
        return OutOfScopeReason.NOVEL
    return None
