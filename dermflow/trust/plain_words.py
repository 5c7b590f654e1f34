"""Numbers and trust outputs said for people: rounded shares, and one sentence per trust figure.

    people_percent(0.99999)        # ">99 %": never "100.0 %" for a probability that is not 1
    people_percent(0.0042)         # "<1 %"
    in_scope_sentence(0.045, out_of_scope=True)   # "Less usual than 96 % of the images ..."
    prediction_set_sentence(["MEL", "NV"], 0.9, shown=str)
    TRUST_MEANINGS["ece"]          # one sentence for a reader of the model report
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

TRUST_MEANINGS: dict[str, str] = {
    "balanced_accuracy": "The mean of the per-class sensitivities: how often the model names the right class, "
                         "with every class counting the same however rare it is.",
    "sensitivity": "Of the images that truly are this class, the share the model called this class.",
    "auc": "How well the class's probability ranks images of this class above the others: 1 is perfect, 0.5 is chance.",
    "ece": "Expected calibration error: how far the stated probabilities are from how often the model is right "
           "(0 is perfect; 0.05 means about 5 points off).",
    "coverage": "How often the prediction set held the true diagnosis on held-out images of the model's classes.",
    "out_of_scope_auroc": "How well the out-of-scope score separates other diagnoses from the model's own classes "
                          "(1 is perfect, 0.5 is chance).",
    "in_scope_flag_rate": "The share of images of the model's own classes wrongly flagged as out of scope.",
    "other_flag_rate": "The share of images of other diagnoses flagged as out of scope (higher is better).",
}


def people_percent(p: float | None) -> str:
    """A share rounded for people: whole percents, ">99 %" and "<1 %" at the ends, "0 %" and "100 %" only when exact."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    p = float(p)
    if p <= 0.0:
        return "0 %"
    if p >= 1.0:
        return "100 %"
    if p < 0.005:
        return "<1 %"
    if p >= 0.995:
        return ">99 %"
    return f"{math.floor(100.0 * p + 0.5)} %"


def in_scope_sentence(in_scope_score: float | None, out_of_scope: bool | None) -> str | None:
    """The in-scope score as a share of the images the model knows; None without one."""
    if in_scope_score is None:
        return None
    rarer_than = people_percent(1.0 - float(in_scope_score))
    if out_of_scope:
        return (f"Less usual than {rarer_than} of the held-out images of the model's own classes: "
                "it looks like none of them.")
    if in_scope_score <= 0.5:
        return f"Less usual than {rarer_than} of the held-out images of the model's own classes, but within what it knows."
    return (f"Typical of the images the model knows: {people_percent(in_scope_score)} of its held-out images "
            "were at least as unusual.")


def prediction_set_sentence(labels: Sequence[str] | None, coverage: float | None,
                            shown: Callable[[str], str] = str) -> str | None:
    """The conformal set in words: what it holds, at which rate, and what empty or several labels mean."""
    if labels is None:
        return None
    rate = (f"On held-out images the set held the true diagnosis {people_percent(coverage)} of the time "
            "(among the model's own classes)") if coverage else "Its coverage is not recorded for this model"
    names = [shown(label) for label in labels]
    if not names:
        return (f"The prediction set is empty: no class is likely enough to be named. {rate}; an empty set "
                "means the model cannot name any of its classes for this image.")
    if len(names) == 1:
        return f"The prediction set is {names[0]} alone. {rate}."
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    return f"The prediction set holds {listed}: the model cannot tell them apart for this image. {rate}."
