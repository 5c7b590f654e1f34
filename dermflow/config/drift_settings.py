"""The ``drift`` section of the typed config: what every scoring run is compared on, and what drift sets off.

    cfg.drift.jensen_shannon["mean_brightness"]   # TFDV's Jensen-Shannon threshold of a numeric feature
    cfg.drift.infinity_norm["out_of_scope"]        # TFDV's L-infinity threshold of a categorical feature

``dermflow.config.DermflowConfig.drift`` is :class:`DriftConfig`. Each monitored feature is a column of
the predictions Parquet (schemas/scores_schema.py), computed in scoring's one image path, and the
model's drift baseline has the same column for its held-out images (docs/scoring.md, "Monitoring"). TFDV compares numeric features by
Jensen-Shannon divergence and categorical ones by L-infinity distance; L-infinity on a numeric feature
silently returns 0, so a feature named under the wrong comparator is refused here.
"""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Columns of the predictions Parquet that the drift check compares, by kind (the comparator each needs).
NUMERIC_FEATURES: tuple[str, ...] = (
    "width", "height", "mean_brightness", "mean_red", "mean_green", "mean_blue", "predicted_probability",
    "in_scope_score",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("format", "predicted_label", "out_of_scope", "prediction_set_size")
IMAGE_FEATURES: tuple[str, ...] = ("width", "height", "format", "mean_brightness", "mean_red", "mean_green", "mean_blue")
DEFAULT_NOTIFIER = "dermflow.orchestration.drift_tasks.log_drift"
_DOTTED_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*([.:][A-Za-z_]\w*)$")


class DriftConfig(BaseModel):
    """The drift check of every scoring run against the model's baseline (its held-out split), and what drift sets off."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="Compare every scoring run with the model's drift baseline; false: no check, "
                                            "the run summary says so.")
    # The real sample's benchmark (docs/benchmarks.md, "Drift check"): each at least the threshold chosen there on
    # batches of 200, 0.1 where that was lower (size, format and in-scope score still fire far above it).
    jensen_shannon: dict[str, float] = Field(
        default_factory=lambda: {
            "width": 0.1, "height": 0.1, "mean_brightness": 0.11, "mean_red": 0.12, "mean_green": 0.13, "mean_blue": 0.1,
            "predicted_probability": 0.12, "in_scope_score": 0.1,
        },
        description="Numeric features compared by TFDV's Jensen-Shannon divergence, each with the divergence above which "
                    "it has drifted; a feature left out is not compared.")
    infinity_norm: dict[str, float] = Field(
        default_factory=lambda: {"format": 0.1, "predicted_label": 0.18, "out_of_scope": 0.1, "prediction_set_size": 0.11},
        description="Categorical features compared by TFDV's L-infinity distance (the largest change in one value's share), "
                    "each with the distance above which it has drifted; a feature left out is not compared.")
    histogram_buckets: int = Field(10, ge=2, description="Equal-width histogram buckets of each numeric feature (TFDV "
                                                         "StatsOptions.num_histogram_buckets) that Jensen-Shannon compares.")
    min_rows: int = Field(50, ge=1, description="A run that scored fewer images is not judged (its distances would be noise); "
                                                "its summary says so.")
    min_baseline_images: int = Field(50, ge=1, description="A model whose drift baseline holds fewer held-out images is "
                                                           "not judged against it (its distances would be noise, e.g. "
                                                           "the demo's tiny test split); the run summary says so.")
    audit_share: float = Field(0.2, ge=0.0, le=1.0, description="Random-audit share of confident rows that the review "
                                                                "queue samples from a run with drift (recorded per run; "
                                                                "audit_share_for_run reads it).")
    notifier: str = Field(DEFAULT_NOTIFIER, description="Dotted path (module.attribute) of what the scoring DAG's "
                                                        "drift_detected task calls with the task context: an Airflow "
                                                        "notifier instance or a function; default: one warning log line.")

    @field_validator("jensen_shannon")
    @classmethod
    def _numeric_only(cls, value: dict[str, float]) -> dict[str, float]:
        return _checked(value, NUMERIC_FEATURES, "jensen_shannon", "numeric", "infinity_norm")

    @field_validator("infinity_norm")
    @classmethod
    def _categorical_only(cls, value: dict[str, float]) -> dict[str, float]:
        return _checked(value, CATEGORICAL_FEATURES, "infinity_norm", "categorical", "jensen_shannon")

    @field_validator("notifier")
    @classmethod
    def _dotted(cls, value: str) -> str:
        if not _DOTTED_PATH.match(value):
            raise ValueError(f"drift.notifier {value!r} is no dotted path like package.module.attribute")
        return value

    @model_validator(mode="after")
    def _something_compared(self) -> "DriftConfig":
        if self.enabled and not (self.jensen_shannon or self.infinity_norm):
            raise ValueError("drift: no feature to compare; name some under jensen_shannon / infinity_norm, or set "
                             "drift.enabled=false")
        return self

    def thresholds(self) -> dict[str, float]:
        """Every compared feature -> its threshold."""
        return {**self.jensen_shannon, **self.infinity_norm}


def _checked(value: dict[str, float], allowed: tuple[str, ...], key: str, kind: str, other: str) -> dict[str, float]:
    wrong = sorted(set(value) - set(allowed))
    if wrong:
        misplaced = [name for name in wrong if name in NUMERIC_FEATURES + CATEGORICAL_FEATURES]
        hint = f"; {misplaced} belong under drift.{other}" if misplaced else ""
        raise ValueError(f"drift.{key} compares {kind} features only ({', '.join(allowed)}), not {wrong}{hint}")
    bad = {name: threshold for name, threshold in value.items() if not 0.0 < threshold <= 1.0}
    if bad:
        raise ValueError(f"drift.{key}: thresholds must be in (0, 1], got {bad}")
    return value
