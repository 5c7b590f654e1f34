"""A scoring run against the model's drift baseline, by TFDV's drift comparators.

    comparison = compare_with_baseline(baseline_frame, run_frame, cfg.drift.thresholds(), cfg.drift.histogram_buckets)
    comparison.drifted            # the FeatureDrifts whose distance crossed their threshold

Both frames come from :func:`dermflow.monitoring.drift_features.feature_frame`. TFDV computes each side's
statistics in memory (``generate_statistics_from_dataframe``) and ``validate_statistics`` compares them
with a schema that holds one drift comparator per feature: ``jensen_shannon_divergence`` for numeric
features (over ``histogram_buckets`` equal-width buckets) and ``infinity_norm`` for categorical ones.
The distance of every compared feature comes from the anomalies' ``drift_skew_info``; whether it
drifted is TFDV's own verdict (a drift anomaly on the feature). TFDV measures nothing for L-infinity on
a numeric feature and reports 0: a configured feature that TFDV did not measure is an error here,
never a silent "no drift".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dermflow.monitoring.drift_features import (
    INFINITY_NORM, JENSEN_SHANNON, comparator_of, distribution_summary, feature_group, is_numeric,
)

# TFDV's anomaly types for a drift comparator that fired, by comparator.
_DRIFT_ANOMALIES = {JENSEN_SHANNON: "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", INFINITY_NORM: "COMPARATOR_L_INFTY_HIGH"}
_MEASUREMENTS = {JENSEN_SHANNON: "JENSEN_SHANNON_DIVERGENCE", INFINITY_NORM: "L_INFTY"}


class DriftCheckError(RuntimeError):
    """TFDV did not measure a configured feature (a comparator that cannot fire on it)."""


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    comparator: str  # JENSEN_SHANNON or INFINITY_NORM
    distance: float
    threshold: float
    drifted: bool
    run_summary: str
    baseline_summary: str

    @property
    def group(self) -> str:
        return feature_group(self.feature)

    def line(self) -> str:
        """``mean_brightness JS 0.213 > 0.08`` (what the console and the notifier say)."""
        short = "JS" if self.comparator == JENSEN_SHANNON else "L-inf"
        return f"{self.feature} {short} {self.distance:.3f} {'>' if self.drifted else '<='} {self.threshold:g}"


@dataclass(frozen=True)
class DriftComparison:
    features: tuple[FeatureDrift, ...]
    not_compared: dict[str, str] = field(default_factory=dict)  # feature -> why

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.drifted]


def _import_tfdv():
    import tfx  # noqa: F401  TFDV imports only after tfx (tfx_bsl's sql_util; /work/shared/STACK.md)
    import tensorflow_data_validation as tfdv

    return tfdv


def drift_schema(thresholds: dict[str, float]):
    """A TFDV schema with one drift comparator per feature and no other constraint."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    for name, threshold in thresholds.items():
        feature = schema.feature.add(name=name)
        if is_numeric(name):
            feature.type = schema_pb2.FLOAT
            feature.drift_comparator.jensen_shannon_divergence.threshold = threshold
        else:
            feature.type = schema_pb2.BYTES
            feature.drift_comparator.infinity_norm.threshold = threshold
    return schema


def _comparable(baseline: pd.DataFrame, run: pd.DataFrame, features: list[str]) -> tuple[list[str], dict[str, str]]:
    compared, skipped = [], {}
    for name in features:
        for side, frame in (("baseline", baseline), ("run", run)):
            missing = int(frame[name].isna().sum()) if name in frame else len(frame)
            if missing:
                skipped[name] = f"no value in {missing} of the {side}'s {len(frame)} rows"
                break
        else:
            compared.append(name)
    return compared, skipped


def compare_with_baseline(baseline: pd.DataFrame, run: pd.DataFrame, thresholds: dict[str, float],
                          histogram_buckets: int) -> DriftComparison:
    """Every feature of ``thresholds`` that both sides have in every row, compared by its TFDV comparator."""
    compared, skipped = _comparable(baseline, run, list(thresholds))
    if not compared or baseline.empty or run.empty:
        return DriftComparison((), skipped)
    tfdv = _import_tfdv()
    options = tfdv.StatsOptions(num_histogram_buckets=histogram_buckets)
    baseline_stats = tfdv.generate_statistics_from_dataframe(baseline[compared], options)
    run_stats = tfdv.generate_statistics_from_dataframe(run[compared], options)
    anomalies = tfdv.validate_statistics(run_stats, drift_schema({n: thresholds[n] for n in compared}),
                                         previous_statistics=baseline_stats)
    measured = {}
    for info in anomalies.drift_skew_info:
        for measurement in info.drift_measurements:
            measured[(info.path.step[-1], measurement.Type.Name(measurement.type))] = measurement.value
    fired = {(name, reason.type) for name, info in anomalies.anomaly_info.items() for reason in info.reason}
    results = []
    for name in compared:
        comparator = comparator_of(name)
        key = (name, _MEASUREMENTS[comparator])
        if key not in measured:
            raise DriftCheckError(f"TFDV measured no {comparator} for {name!r}: this comparator cannot fire on it")
        anomaly = (name, _anomaly_type(_DRIFT_ANOMALIES[comparator]))
        results.append(FeatureDrift(name, comparator, float(measured[key]), float(thresholds[name]), anomaly in fired,
                                    distribution_summary(run, name), distribution_summary(baseline, name)))
    return DriftComparison(tuple(results), skipped)


def _anomaly_type(name: str) -> int:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    return anomalies_pb2.AnomalyInfo.Type.Value(name)
