"""How each model version does on the hospital's reviewed cases, with the random audit apart from the queue.

    for figures in reviewed_performance(db):
        figures.model_version, figures.group, figures.n, figures.balanced_accuracy, figures.balanced_accuracy_interval
        figures.confusion["MEL"]["NV"]     # melanomas (current verdict) shown as NV
        figures.sensitivity["MEL"]         # Share(successes, n, low, high): Wilson 95 %

A case is one image seen with one model version: the prediction is the one shown with the newest
verdict recorded with that version; the truth is the image's current (newest) verdict, whichever
version it was recorded with. ``group`` is ``all``, then ``queue`` (out of scope, prediction set,
melanoma band), ``random_audit`` (the confident rows sampled on purpose: the unbiased figure) and
``other`` (uploads, direct), by the reason shown with that verdict. A diagnosis outside the model's
labels (another ISIC class, OTHER) is a row of the confusion matrix but has no right answer, so it
is left out of the sensitivities and the balanced accuracy (the mean sensitivity over the model's
labels with cases). The same figures from an export in DuckDB: docs/review.md.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from dermflow.review.review_database import ReviewDatabase
from dermflow.review.review_enums import QueueReason
from dermflow.review.review_tables import VerdictRow
from dermflow.review.verdict_store import newest_verdict_ids
from dermflow.trust.binomial_interval import DEFAULT_LEVEL, mean_of_shares_interval, wilson_interval

GROUPS = ("all", "queue", "random_audit", "other")


@dataclass(frozen=True)
class Share:
    """``successes`` of ``n``, with its Wilson interval."""

    successes: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        return self.successes / self.n if self.n else None


@dataclass(frozen=True)
class ReviewedPerformance:
    model_name: str
    model_version: str
    group: str
    n: int  # reviewed images
    n_scored: int  # of them, with a diagnosis among the model's labels (the balanced accuracy's cases)
    labels: tuple[str, ...]  # the model's labels, in the order its probabilities were shown
    confusion: dict[str, dict[str, int]]  # true label (or diagnosis outside the labels) -> predicted label -> images
    sensitivity: dict[str, Share]  # per label with cases
    balanced_accuracy: float | None
    balanced_accuracy_interval: tuple[float, float] | None
    level: float

    def as_dict(self) -> dict:
        data = asdict(self)
        for label, share in self.sensitivity.items():
            data["sensitivity"][label]["value"] = share.value
        return data


@dataclass(frozen=True)
class _Case:
    model_name: str
    model_version: str
    predicted: str
    labels: tuple[str, ...]
    diagnosis: str
    group: str


def _cases(db: ReviewDatabase) -> list[_Case]:
    shown = (select(VerdictRow.sha256, VerdictRow.model_version, func.max(VerdictRow.id).label("id"))
             .where(VerdictRow.model_version.is_not(None)).group_by(VerdictRow.sha256, VerdictRow.model_version).subquery())
    newest = newest_verdict_ids()
    truth = aliased(VerdictRow)
    query = (select(VerdictRow.model_name, VerdictRow.model_version, VerdictRow.predicted_label,
                    VerdictRow.probabilities, VerdictRow.queue_reason, truth.diagnosis)
             .join(shown, shown.c.id == VerdictRow.id)
             .join(newest, newest.c.sha256 == VerdictRow.sha256)
             .join(truth, truth.id == newest.c.id))
    with db.reading() as session:
        return [_Case(name or "", version, predicted, tuple(probabilities or ()), diagnosis, QueueReason(reason).group)
                for name, version, predicted, probabilities, reason, diagnosis in session.execute(query)]


def _labels(cases: list[_Case]) -> tuple[str, ...]:
    labels: dict[str, None] = {}
    for case in cases:
        labels.update(dict.fromkeys(case.labels or (case.predicted,)))
    return tuple(labels)


def _figures(cases: list[_Case], group: str, labels: tuple[str, ...], code_to_label: Mapping[str, str],
             level: float) -> ReviewedPerformance:
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hits: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for case in cases:
        truth = code_to_label.get(case.diagnosis)
        confusion[truth or case.diagnosis][case.predicted] += 1
        if truth is not None:
            totals[truth] += 1
            hits[truth] += int(case.predicted == truth)
    scored = [label for label in labels if totals[label]]
    sensitivity = {label: Share(hits[label], totals[label], *wilson_interval(hits[label], totals[label], level))
                   for label in scored}
    balanced = sum(hits[label] / totals[label] for label in scored) / len(scored) if scored else None
    interval = mean_of_shares_interval([hits[label] for label in scored], [totals[label] for label in scored], level) \
        if scored else None
    return ReviewedPerformance(
        model_name=cases[0].model_name, model_version=cases[0].model_version, group=group, n=len(cases),
        n_scored=sum(totals.values()), labels=labels,
        confusion={truth: dict(row) for truth, row in sorted(confusion.items())}, sensitivity=sensitivity,
        balanced_accuracy=balanced, balanced_accuracy_interval=interval, level=level,
    )


def reviewed_performance(db: ReviewDatabase, label_maps: Mapping[str, Mapping[str, str]] | None = None,
                         level: float = DEFAULT_LEVEL) -> list[ReviewedPerformance]:
    """Per model version (sorted), the figures of ``all`` its cases, then of each group that has cases.

    ``label_maps``: model version -> {ISIC code: label} for models whose labels group codes (the
    ``code_to_label`` of its labels.json, e.g. binary: MEL -> malignant); by default a diagnosis is
    right when it equals the label shown.
    """
    by_version: dict[str, list[_Case]] = defaultdict(list)
    for case in _cases(db):
        by_version[case.model_version].append(case)
    results = []
    for version in sorted(by_version):
        cases = by_version[version]
        labels = _labels(cases)
        code_to_label = dict((label_maps or {}).get(version) or {label: label for label in labels})
        for group in GROUPS:
            members = cases if group == "all" else [case for case in cases if case.group == group]
            if members:
                results.append(_figures(members, group, labels, code_to_label, level))
    return results
