"""One prediction said for people: the headline, the trust outputs in words, probabilities rounded.

    facts = facts_of_export(saved_model_dir)      # or ModelFacts(labels, names, coverage=0.9, trust_fitted=True)
    reading = read_prediction(facts, probabilities, out_of_scope=True, in_scope_score=0.04, prediction_set=["MEL"])
    reading.headline          # "Outside what this model knows"
    reading.as_dict()         # what the API's ``reading`` holds, and what the pages and the gallery show

An out-of-scope image names no class: its probabilities stay, marked secondary (the pages fold them
away). A prediction set of one label is the answer; an empty set or several labels say "uncertain".
A model exported without fitted trust outputs gets the most probable class, and says so.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

from dermflow.isic.class_names import label_names, shown
from dermflow.models.export_layout import read_export_calibration, read_exported_label_names, read_exported_labels
from dermflow.trust.plain_words import in_scope_sentence, people_percent, prediction_set_sentence

OUT_OF_SCOPE, ONE_LABEL, SEVERAL_LABELS, NO_LABEL, NO_TRUST = "out_of_scope", "one_label", "several_labels", "no_label", "no_trust"


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

    def as_dict(self) -> dict:
        return asdict(self)


def read_prediction(facts: ModelFacts, probabilities: Mapping[str, float] | Sequence[float], out_of_scope: bool | None = None,
                    in_scope_score: float | None = None, prediction_set: Sequence[str] | None = None) -> PredictionReading:
    by_label = dict(probabilities) if isinstance(probabilities, Mapping) else dict(zip(facts.labels, probabilities))
    lines = [ProbabilityLine(label, facts.shown(label), float(p), people_percent(p)) for label, p in by_label.items()]
    top = max(lines, key=lambda line: line.value) if lines else None
    trusted = facts.trust_fitted and out_of_scope is not None
    set_words = prediction_set_sentence(prediction_set, facts.coverage, facts.shown) if trusted else None
    in_scope = in_scope_sentence(in_scope_score, out_of_scope) if trusted else None
    if trusted and out_of_scope:  # no class is the answer, so no prediction set is said either
        return PredictionReading(
            OUT_OF_SCOPE, "Outside what this model knows",
            f"This image looks like none of the classes the model was trained on: {facts.classes_in_words}. The model "
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
