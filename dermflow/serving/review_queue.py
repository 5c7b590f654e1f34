"""The review queue: the scored images that need a human, read from the results Parquet with DuckDB.

    settings = QueueSettings(melanoma_band=(0.2, 0.8), audit_share=0.05, audit_seed=0)
    queue = review_queue(store, settings, reviewed={"<sha256>", ...})
    queue.needs_review      # out of scope, a prediction set not of exactly one label, melanoma in the band,
                            #   the Grad-CAM's peak off the lesion
    queue.random_audit      # a share of the confident rest, drawn by a hash of sha256 and the seed; a run whose
                            #   drift check found drift is audited at its larger share (run_audit_shares)

One entry per image (``sha256``): its newest scoring. An image with a current verdict (``reviewed``)
leaves the queue. The random audit is kept apart, so that accuracy on the confident images the queue
never shows is measured too; the draw is deterministic (:func:`audit_draw`), so the same images stay
drawn while the settings stay.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable

from dermflow.serving.results_store import READING_COLUMNS, TRUST_COLUMNS, ResultsStore

OUT_OF_SCOPE, PREDICTION_SET, MELANOMA_BAND, RANDOM_AUDIT = "out_of_scope", "prediction_set", "melanoma_band", "random_audit"
ATTENTION_OFF_LESION = "attention_off_lesion"
REASON_WORDS = {
    OUT_OF_SCOPE: "outside what the model knows",
    PREDICTION_SET: "the prediction set is not exactly one class",
    MELANOMA_BAND: "melanoma probability in the review band",
    ATTENTION_OFF_LESION: "the model's attention is mostly outside the lesion",
    RANDOM_AUDIT: "random audit of a confident answer",
}
_SHOWN = ("path", "sha256", "model_name", "model_version", "run_id", "scored_at", "predicted_label", "probabilities")


@dataclass(frozen=True)
class QueueSettings:
    melanoma_band: tuple[float, float] = (0.2, 0.8)  # review.queue_melanoma_band
    audit_share: float = 0.05  # review.audit_share
    audit_seed: int = 0  # review.audit_seed
    melanoma_label: str = "MEL"
    limit: int = 200  # entries listed per group (the counts are of all)
    # run_id -> the audit share of a run whose drift check found drift (drift.audit_share; docs/scoring.md)
    run_audit_shares: dict[str, float] = field(default_factory=dict)

    def audit_share_of(self, run_id: str) -> float:
        return max(self.audit_share, self.run_audit_shares.get(run_id, 0.0))


@dataclass
class QueueEntry:
    row: dict
    reasons: list[str]

    @property
    def reason(self) -> str:
        """The first reason: the one a verdict records as ``queue_reason``."""
        return self.reasons[0]


@dataclass
class ReviewQueue:
    needs_review: list[QueueEntry] = field(default_factory=list)
    random_audit: list[QueueEntry] = field(default_factory=list)
    needs_review_total: int = 0
    random_audit_total: int = 0
    has_trust: bool = False


def audit_draw(sha256: str, seed: int) -> float:
    """In [0, 1): the image's fixed draw for the random audit (it is audited when the draw is below the share)."""
    digest = hashlib.sha256(f"{seed}:{sha256}".encode("ascii", "replace")).hexdigest()
    return int(digest[:13], 16) / float(16 ** 13)


def _reason_sql(settings: QueueSettings, labels: list[str], columns: list[str]) -> tuple[list[tuple[str, str]], list]:
    """(reason, SQL condition) pairs for the queue, and their bound parameters in order."""
    reasons, params = [], []
    if all(column in columns for column in TRUST_COLUMNS):
        reasons.append((OUT_OF_SCOPE, "coalesce(out_of_scope, false)"))
        reasons.append((PREDICTION_SET, "coalesce(prediction_set_size <> 1, false)"))
    if settings.melanoma_label in labels:
        reasons.append((MELANOMA_BAND, "coalesce(probabilities[?] BETWEEN ? AND ?, false)"))
        params += [settings.melanoma_label, *settings.melanoma_band]
    if ATTENTION_OFF_LESION in columns:
        reasons.append((ATTENTION_OFF_LESION, "coalesce(attention_off_lesion, false)"))
    return reasons, params


def review_queue(store: ResultsStore, settings: QueueSettings, reviewed: Iterable[str] = ()) -> ReviewQueue:
    connection = store.connect("predictions")
    if connection is None:
        return ReviewQueue()
    reviewed = sorted(set(reviewed))
    with connection:
        columns = [row[0] for row in connection.execute("DESCRIBE predictions").fetchall()]
        has_trust = all(column in columns for column in TRUST_COLUMNS)
        labels = store._labels(connection)
        reasons, reason_params = _reason_sql(settings, labels, columns)
        trust = [c for c in (*TRUST_COLUMNS, *READING_COLUMNS) if c in columns]
        flags = ", ".join(f"{condition} AS reason_{name}" for name, condition in reasons) or "NULL AS reason_none"
        connection.execute(
            f"CREATE TEMP TABLE latest AS SELECT {', '.join((*_SHOWN, *trust))}, {flags} FROM ("
            "SELECT *, row_number() OVER (PARTITION BY sha256 ORDER BY scored_at DESC, model_version DESC, run_id DESC) AS n"
            " FROM predictions WHERE NOT list_contains(?, sha256)) WHERE n = 1",
            [*reason_params, reviewed],
        )
        names = [name for name, _ in reasons]
        any_reason = " OR ".join(f"reason_{name}" for name in names) or "false"
        order = (f"probabilities[?] DESC NULLS LAST, " if settings.melanoma_label in labels else "") + "path"
        order_params = [settings.melanoma_label] if settings.melanoma_label in labels else []
        queue = ReviewQueue(has_trust=has_trust)
        cursor = connection.execute(f"SELECT * FROM latest WHERE {any_reason} ORDER BY "
                                    + "".join(f"reason_{name} DESC, " for name in names) + order, order_params)
        flagged = _entries(cursor, names)
        queue.needs_review_total, queue.needs_review = len(flagged), flagged[: settings.limit]
        confident = connection.execute(f"SELECT sha256, run_id FROM latest WHERE NOT ({any_reason})").fetchall()
        drawn = [sha for sha, run_id in confident if audit_draw(sha, settings.audit_seed) < settings.audit_share_of(run_id)]
        cursor = connection.execute(f"SELECT * FROM latest WHERE list_contains(?, sha256) ORDER BY {order}", [drawn, *order_params])
        audited = [QueueEntry(entry.row, [RANDOM_AUDIT]) for entry in _entries(cursor, [])]
        queue.random_audit_total, queue.random_audit = len(audited), audited[: settings.limit]
    return queue


def _entries(cursor, reason_names: list[str]) -> list[QueueEntry]:
    names = [d[0] for d in cursor.description]
    entries = []
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        row["probabilities"] = {str(k): float(v) for k, v in dict(row["probabilities"]).items()}
        entries.append(QueueEntry({k: v for k, v in row.items() if not k.startswith("reason_")},
                                  [name for name in reason_names if row.get(f"reason_{name}")]))
    return entries
