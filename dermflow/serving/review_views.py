"""What the pages show of the review store: the verdict choices, an image's verdict history, the form.

    verdict_choices()                                  # diagnoses and bases for the verdict forms
    await verdict_section(request, sha256, row)        # the template values of an image's verdicts
"""
from __future__ import annotations

from fastapi import Request

from dermflow.config import ISIC_DIAGNOSES
from dermflow.isic.class_names import shown

BASIS_WORDS = {"histopathology": "histopathology", "consensus": "consensus of experts", "follow_up": "follow-up",
               "single_expert": "a single expert"}


def verdict_choices() -> dict:
    return {
        "diagnoses": [(code, shown(code)) for code in ISIC_DIAGNOSES] + [("OTHER", "other (say which)")],
        "bases": list(BASIS_WORDS.items()),
    }


async def verdict_section(request: Request, sha256: str, row: dict | None) -> dict:
    return {**verdict_choices(), "history": [], "show_comments": False, "review_available": False, "kept": False,
            "queue_reason": "direct", "verdict_words": str}
