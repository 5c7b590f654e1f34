"""One scoring run's drift check: its scored rows against the model's baseline, and what to record of it.

    result = check_run(run_rows, read_drift_baseline(saved_model_dir), cfg.drift, "name/version")
    result.summary()        # the run summary's "drift" section (runs/<run_id>.json, dermflow score's lines)
    result.run_row(), result.feature_rows()   # the monitoring Parquet (schemas/monitoring_schema.py)

``run_rows`` is the run's prediction rows (a pyarrow table with the monitored columns). A run is judged
only with a baseline and at least ``drift.min_rows`` scored images; otherwise ``status`` says why and
nothing fails. Drift raises the run's random-audit share for the review queue to ``drift.audit_share``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from dermflow.config.drift_settings import DriftConfig
from dermflow.monitoring.drift_baseline import DriftBaseline
from dermflow.monitoring.drift_comparison import DriftComparison, compare_with_baseline
from dermflow.monitoring.drift_features import feature_frame, flagged_rate

CHECKED, NO_BASELINE, TOO_FEW_ROWS, NOTHING_SCORED, DISABLED = "checked", "no_baseline", "too_few_rows", "nothing_scored", "disabled"
SMALL_BASELINE = "small_baseline"
NOTHING_COMPARABLE = "nothing_comparable"


@dataclass(frozen=True)
class RunDrift:
    status: str
    scored: int
    note: str
    comparison: DriftComparison | None = None
    out_of_scope_rate: float | None = None
    baseline_split: str | None = None
    baseline_images: int = 0
    baseline_out_of_scope_rate: float | None = None
    audit_share: float | None = None  # raised share for the review queue; None: the queue's default
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def drift_detected(self) -> bool | None:
        return None if self.comparison is None or not self.comparison.features else bool(self.comparison.drifted)

    @property
    def drifted_features(self) -> list[str]:
        return [] if self.comparison is None else [f.feature for f in self.comparison.drifted]

    def summary(self) -> dict:
        """JSON-ready: the run summary's ``drift`` section."""
        features = [] if self.comparison is None else [
            {"feature": f.feature, "group": f.group, "comparator": f.comparator, "distance": round(f.distance, 6),
             "threshold": f.threshold, "drifted": f.drifted, "run": f.run_summary, "baseline": f.baseline_summary}
            for f in self.comparison.features
        ]
        return {
            "status": self.status, "drift_detected": self.drift_detected, "drifted_features": self.drifted_features,
            "scored": self.scored, "out_of_scope_rate": self.out_of_scope_rate, "baseline_split": self.baseline_split,
            "baseline_images": self.baseline_images, "baseline_out_of_scope_rate": self.baseline_out_of_scope_rate,
            "audit_share": self.audit_share, "note": self.note, "features": features,
            "not_compared": {} if self.comparison is None else dict(self.comparison.not_compared),
        }

    def run_row(self, model_name: str, model_version: str, checked_at) -> dict:
        return {
            "model_name": model_name, "model_version": model_version, "checked_at": checked_at, "status": self.status,
            "drift_detected": self.drift_detected, "drifted_features": self.drifted_features, "scored": self.scored,
            "out_of_scope_rate": self.out_of_scope_rate, "baseline_split": self.baseline_split,
            "baseline_images": self.baseline_images, "baseline_out_of_scope_rate": self.baseline_out_of_scope_rate,
            "audit_share": self.audit_share, "note": self.note,
        }

    def feature_rows(self, model_version: str, checked_at) -> list[dict]:
        return [] if self.comparison is None else [
            {"model_version": model_version, "checked_at": checked_at, "feature": f.feature, "feature_group": f.group,
             "comparator": f.comparator, "distance": f.distance, "threshold": f.threshold, "drifted": f.drifted,
             "run_summary": f.run_summary, "baseline_summary": f.baseline_summary}
            for f in self.comparison.features
        ]


def check_run(run_rows: pa.Table, baseline: DriftBaseline | None, cfg: DriftConfig, model: str) -> RunDrift:
    """Judges the run, or says why not (never raises for a missing baseline or too few rows)."""
    thresholds = cfg.thresholds()
    run = feature_frame(run_rows, thresholds or ["out_of_scope"])
    scored = run_rows.num_rows
    rate = flagged_rate(feature_frame(run_rows, ["out_of_scope"])) if scored else None
    common = {"scored": scored, "out_of_scope_rate": rate, "thresholds": thresholds}
    if not cfg.enabled:
        return RunDrift(DISABLED, note="drift check off (drift.enabled is false)", **common)
    if baseline is None:
        return RunDrift(NO_BASELINE, note=f"no drift baseline: {model} was exported without one (before drift checks, "
                                          "or by hand); retrain it to record one", **common)
    base = feature_frame(baseline.table, thresholds)
    about = {"baseline_split": baseline.split, "baseline_images": baseline.images,
             "baseline_out_of_scope_rate": flagged_rate(feature_frame(baseline.table, ["out_of_scope"]))}
    if scored == 0:
        return RunDrift(NOTHING_SCORED, note="not judged: the run scored no image (all skipped or rejected)", **common, **about)
    if baseline.images < cfg.min_baseline_images:
        return RunDrift(SMALL_BASELINE, note=f"not judged: the model's drift baseline holds {baseline.images} held-out "
                                             f"images, fewer than drift.min_baseline_images ({cfg.min_baseline_images}); "
                                             "a model trained with a larger test split records a larger one", **common, **about)
    if scored < cfg.min_rows:
        return RunDrift(TOO_FEW_ROWS, note=f"not judged: {scored} images scored, fewer than drift.min_rows ({cfg.min_rows})",
                        **common, **about)
    comparison = compare_with_baseline(base, run, thresholds, cfg.histogram_buckets)
    audit = cfg.audit_share if comparison.drifted else None
    status = CHECKED if comparison.features else NOTHING_COMPARABLE
    return RunDrift(status, note=_note(comparison, baseline, audit), comparison=comparison, audit_share=audit,
                    **common, **about)


def _note(comparison: DriftComparison, baseline: DriftBaseline, audit: float | None) -> str:
    against = f"the model's {baseline.split} split ({baseline.images} images{'; ' + baseline.note if baseline.note else ''})"
    skipped = "; not compared: " + ", ".join(f"{k} ({v})" for k, v in comparison.not_compared.items()) \
        if comparison.not_compared else ""
    drifted = comparison.drifted
    if drifted:
        listed = ", ".join(f.line() for f in drifted)
        return (f"DRIFT in {len(drifted)} of {len(comparison.features)} features against {against}: {listed}; "
                f"the review queue audits {audit:.0%} of this run's confident rows{skipped}")
    if not comparison.features:
        return f"not judged: no feature could be compared against {against}{skipped}"
    closest = max(comparison.features, key=lambda f: f.distance / f.threshold)
    return (f"no drift: {len(comparison.features)} features within their thresholds against {against}; "
            f"closest: {closest.line()}{skipped}")
