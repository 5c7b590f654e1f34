"""What the pages show of the review store: the verdict choices, an image's verdict history, the form.

    verdict_choices()                                  # diagnoses and bases for the verdict forms
    await verdict_section(request, sha256, row)        # the template values of an image's verdicts
    shown_prediction(row)                              # what a reviewer was shown, from a results row
"""
from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from dermflow.config import ISIC_DIAGNOSES
from dermflow.isic.class_names import shown
from dermflow.review.review_enums import QueueReason
from dermflow.serving.serving_context import context_of
from dermflow.serving.visitor import visitor_of

BASIS_WORDS = {"histopathology": "histopathology", "consensus": "consensus of experts", "follow_up": "follow-up",
               "single_expert": "a single expert's look"}
QUEUE_REASONS = frozenset(reason.value for reason in QueueReason)


def verdict_choices() -> dict:
    return {
        "diagnoses": [(code, shown(code)) for code in ISIC_DIAGNOSES] + [("OTHER", "other (say which)")],
        "bases": list(BASIS_WORDS.items()),
    }


def verdict_words(verdict) -> str:
    """``melanoma (MEL)``, or ``other: <the reviewer's words>``."""
    if verdict.diagnosis.value == "OTHER":
        return f"other: {verdict.other_text or ''}"
    return shown(verdict.diagnosis.value)


def shown_prediction(row: dict):
    """The ShownPrediction of a results row: what the page showed the reviewer."""
    from dermflow.review import ShownPrediction

    return ShownPrediction(row["model_name"], row["model_version"], row["predicted_label"], dict(row["probabilities"]),
                           row.get("out_of_scope"), row.get("run_id"))


def _history_and_kept(review, sha256: str):
    from dermflow.review import kept_image, verdict_history

    return verdict_history(review, sha256), kept_image(review, sha256) is not None


async def verdict_section(request: Request, sha256: str, row: dict | None) -> dict:
    """The verdict history (comments only for a signed-in visitor) and the form's values."""
    context = context_of(request)
    visitor = visitor_of(request)
    history, kept = await run_in_threadpool(_history_and_kept, context.review, sha256)
    reason = request.query_params.get("reason")
    return {
        **verdict_choices(), "history": history, "kept": kept, "review_available": True, "verdict_words": verdict_words,
        "show_comments": visitor is not None, "queue_reason": reason if reason in QUEUE_REASONS else "direct",
    }
