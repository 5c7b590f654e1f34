"""One prediction said for people: the headline, the trust outputs in words, probabilities rounded.

    facts = facts_of_export(saved_model_dir)      # or ModelFacts(labels, names, coverage=0.9, trust_fitted=True)
    reading = read_prediction(facts, probabilities, out_of_scope=True, in_scope_score=0.04, prediction_set=["MEL"])
    reading.headline          # "Outside what this model knows"
    reading.as_dict()         # what the API's ``reading`` holds, and what the pages and the gallery show
    read_row(facts, row)      # the same from a results row or an API body (trust, reason and attention fields)

An out-of-scope image names no class: its probabilities stay, marked secondary (the pages fold them
away). A prediction set of one label is the answer; an empty set or several labels say "uncertain".
A model exported without fitted trust outputs gets the most probable class, and says so. Where the
Grad-CAM lies against the lesion mask (``gradcam_in_lesion``, ``attention_off_lesion``: docs/trust.md,
"Artefacts") is said too, with a warning when the attention is mostly outside the lesion.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Mapping, Sequence

from dermflow.isic.class_names import label_names, shown
from dermflow.models.export_layout import read_export_calibration, read_exported_label_names, read_exported_labels
from dermflow.trust.out_of_scope_reason import WORDING, OutOfScopeReason
from dermflow.trust.plain_words import in_scope_sentence, people_percent, prediction_set_sentence

OUT_OF_SCOPE, ONE_LABEL, SEVERAL_LABELS, NO_LABEL, NO_TRUST = "out_of_scope", "one_label", "several_labels", "no_label", "no_trust"
ATTENTION_OFF_LESION = ("The model's attention is mostly outside the lesion: check the image for rulers, ink or stickers "
                        "before relying on this result.")
NO_LESION_OUTLINE = "No lesion outline was found; the heatmap cannot be checked against it."


@dataclass(frozen=True)
class ModelFacts:
    """What a reader needs to know about the model that answered: its classes, their names, its trust settings."""

    labels: Sequence[str]
    names: Mapping[str, str] = field(default_factory=dict)
    coverage: float | None = None  # calibration.json conformal.coverage
    trust_fitted: bool = False

    def shown(self, label: str) -> str:
        return shown(label, self.names or label_names([label]))

    @property
    def classes_in_words(self) -> str:
        """``melanoma (MEL), melanocytic nevus (NV) and basal cell carcinoma (BCC)``."""
        names = [self.shown(label) for label in self.labels]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def facts_of_export(export_dir) -> ModelFacts:
    """An exported model's labels, their names (recorded, or ISIC's table) and its trust settings (calibration.json)."""
    calibration = read_export_calibration(export_dir)
    fitted = bool((calibration.get("fit") or {}).get("fitted")) and calibration.get("fitted", True) is not False
    coverage = (calibration.get("conformal") or {}).get("coverage")
    return ModelFacts(read_exported_labels(export_dir), read_exported_label_names(export_dir),
                      float(coverage) if coverage is not None and fitted else None, fitted)


@dataclass(frozen=True)
class ProbabilityLine:
    label: str
    name: str  # "melanoma (MEL)"
    value: float
    text: str  # "87 %", ">99 %", "<1 %"


@dataclass(frozen=True)
class PredictionReading:
    kind: str  # out_of_scope | one_label | several_labels | no_label | no_trust
    headline: str
    detail: str
    answer: str | None  # the label named as the answer; None when the model names none
    prediction_set: str | None  # the set in words
    in_scope: str | None  # the in-scope score in words
    probabilities: list[ProbabilityLine]
    probabilities_secondary: bool  # shown folded away, for completeness only
    attention: str | None = None  # "Grad-CAM on the lesion: 72 %", or that no lesion outline was found
    attention_warning: str | None = None  # ATTENTION_OFF_LESION when the Grad-CAM's peak lies off the lesion

    def as_dict(self) -> dict:
        return asdict(self)


def read_row(facts: ModelFacts, row: Mapping) -> PredictionReading:
    """A results row (or the predict API's body) said for people: every trust and attention field it has."""
    reading = read_prediction(facts, row["probabilities"], row.get("out_of_scope"), row.get("in_scope_score"),
                              row.get("prediction_set"), row.get("out_of_scope_reason"))
    return with_attention(reading, row.get("gradcam_in_lesion"), row.get("attention_off_lesion"),
                          "gradcam_in_lesion" in row)


def with_attention(reading: PredictionReading, gradcam_in_lesion: float | None, attention_off_lesion: bool | None,
                   measured: bool = True) -> PredictionReading:
    """The reading with where the Grad-CAM lies against the lesion mask (null fields: no outline was found;
    ``measured`` False: a row from before the attention fields existed, which says nothing)."""
    if not measured:
        return reading
    if gradcam_in_lesion is None:
        return replace(reading, attention=NO_LESION_OUTLINE)
    return replace(reading, attention=f"Grad-CAM on the lesion: {people_percent(gradcam_in_lesion)}",
                   attention_warning=ATTENTION_OFF_LESION if attention_off_lesion else None)


def read_prediction(facts: ModelFacts, probabilities: Mapping[str, float] | Sequence[float], out_of_scope: bool | None = None,
                    in_scope_score: float | None = None, prediction_set: Sequence[str] | None = None,
                    out_of_scope_reason: str | None = None) -> PredictionReading:
    by_label = dict(probabilities) if isinstance(probabilities, Mapping) else dict(zip(facts.labels, probabilities))
    lines = [ProbabilityLine(label, facts.shown(label), float(p), people_percent(p)) for label, p in by_label.items()]
    top = max(lines, key=lambda line: line.value) if lines else None
    trusted = facts.trust_fitted and out_of_scope is not None
    set_words = prediction_set_sentence(prediction_set, facts.coverage, facts.shown) if trusted else None
    in_scope = in_scope_sentence(in_scope_score, out_of_scope) if trusted else None
    if trusted and out_of_scope:  # no class is the answer, so no prediction set is said either
        return PredictionReading(
            OUT_OF_SCOPE, "Outside what this model knows",
            _why_out_of_scope(out_of_scope_reason)
            + f"This image looks like none of the classes the model was trained on: {facts.classes_in_words}. The model "
            "names none of them. Its probabilities are kept, folded away, for completeness only: they are not an answer.",
            None, None, in_scope, lines, True)
    if not trusted or prediction_set is None:
        headline = f"Most likely {top.name}, {top.text}" if top else "No answer"
        return PredictionReading(
            NO_TRUST, headline, "This model version has no fitted trust outputs: nothing checks whether the image is of a "
            "kind it knows, and there is no prediction set. Read the probabilities with care.",
            top.label if top else None, None, None, lines, False)
    if len(prediction_set) == 1:
        label = prediction_set[0]
        line = next((line for line in lines if line.label == label), top)
        return PredictionReading(ONE_LABEL, f"Most likely {line.name}, {line.text}", "", label, set_words,
                                 in_scope, lines, False)
    if not prediction_set:
        return PredictionReading(NO_LABEL, "Uncertain: no class is likely enough to name",
                                 "The model names no class for this image: a clinician decides.", None,
                                 set_words, in_scope, lines, False)
    names = [facts.shown(label) for label in prediction_set]
    return PredictionReading(SEVERAL_LABELS, "Uncertain between " + ", ".join(names[:-1]) + " and " + names[-1],
                             "The model cannot tell these apart for this image: a clinician decides.", None, set_words,
                             in_scope, lines, False)


def _why_out_of_scope(reason: str | None) -> str:
    """"Looks unlike anything the model knows. " for a known reason (the decision's signal, docs/trust.md), else ""."""
    try:
        return f"{WORDING[OutOfScopeReason(reason)]}. " if reason else ""
    except ValueError:
        return ""
