"""TFDV's drift comparators, as the drift check configures them: each can fire, and stays quiet on the same data."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dermflow.config import load_config
from dermflow.config.drift_settings import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from dermflow.monitoring.drift_comparison import compare_with_baseline, drift_schema
from dermflow.monitoring.drift_features import INFINITY_NORM, JENSEN_SHANNON, feature_frame

N = 400
DRIFT = load_config().drift


def _sample(rng: np.random.Generator, n: int, shift: str | None = None) -> pa.Table:
    """Rows shaped like scoring's: dermoscopy-like sizes and colours, three labels, a few flagged."""
    shifted = {}
    columns = {
        "width": rng.choice([1024, 600, 640], n, p=[0.6, 0.3, 0.1]).astype(np.int32),
        "height": rng.choice([768, 450, 480], n, p=[0.6, 0.3, 0.1]).astype(np.int32),
        "format": np.array(["jpeg"] * n, dtype=object),
        "mean_brightness": rng.normal(150, 15, n), "mean_red": rng.normal(190, 15, n),
        "mean_green": rng.normal(140, 15, n), "mean_blue": rng.normal(130, 15, n),
        "predicted_label": rng.choice(["NV", "MEL", "BCC"], n, p=[0.7, 0.2, 0.1]),
        "predicted_probability": rng.beta(8, 2, n), "in_scope_score": rng.uniform(0.02, 1.0, n),
        "out_of_scope": rng.random(n) < 0.05, "prediction_set_size": rng.choice([1, 2, 3], n, p=[0.85, 0.13, 0.02]),
    }
    if shift:
        shifted = {
            "width": rng.choice([320, 300], n).astype(np.int32), "height": rng.choice([240, 200], n).astype(np.int32),
            "format": np.array(["png"] * n, dtype=object), "mean_brightness": rng.normal(90, 15, n),
            "mean_red": rng.normal(120, 15, n), "mean_green": rng.normal(200, 15, n), "mean_blue": rng.normal(200, 15, n),
            "predicted_label": rng.choice(["NV", "MEL", "BCC"], n, p=[0.2, 0.2, 0.6]),
            "predicted_probability": rng.beta(2, 2, n) * 0.6 + 0.34, "in_scope_score": rng.uniform(0.0, 0.1, n),
            "out_of_scope": rng.random(n) < 0.6, "prediction_set_size": rng.choice([1, 2, 3], n, p=[0.2, 0.3, 0.5]),
        }
        columns[shift] = shifted[shift]
    return pa.table(columns)


def _frames(shift: str | None = None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    features = list(DRIFT.thresholds())
    return feature_frame(_sample(rng, N), features), feature_frame(_sample(rng, N // 2, shift), features)


def test_the_same_distribution_stays_quiet_on_every_feature():
    baseline, run = _frames()
    comparison = compare_with_baseline(baseline, run, DRIFT.thresholds(), DRIFT.histogram_buckets)
    assert {f.feature for f in comparison.features} == set(DRIFT.thresholds())
    assert comparison.drifted == [], [f.line() for f in comparison.features]
    assert all(0.0 <= f.distance < f.threshold for f in comparison.features)


@pytest.mark.parametrize("feature", NUMERIC_FEATURES + CATEGORICAL_FEATURES)
def test_each_configured_comparator_fires_on_its_feature_alone(feature):
    baseline, run = _frames(shift=feature)
    comparison = compare_with_baseline(baseline, run, DRIFT.thresholds(), DRIFT.histogram_buckets)
    assert [f.feature for f in comparison.drifted] == [feature]
    [drifted] = comparison.drifted
    assert drifted.comparator == (JENSEN_SHANNON if feature in NUMERIC_FEATURES else INFINITY_NORM)
    assert drifted.distance > drifted.threshold == DRIFT.thresholds()[feature]
    assert feature in drifted.line() and ">" in drifted.line()


def test_infinity_norm_on_a_numeric_feature_would_silently_measure_zero():
    """Why drift.infinity_norm refuses numeric features: TFDV measures 0 there, whatever the data."""
    import tensorflow_data_validation as tfdv  # after tfx: compare_with_baseline above imported it
    from tensorflow_metadata.proto.v0 import schema_pb2

    baseline, run = _frames(shift="mean_brightness")
    schema = schema_pb2.Schema()
    schema.feature.add(name="mean_brightness", type=schema_pb2.FLOAT).drift_comparator.infinity_norm.threshold = 0.01
    stats = [tfdv.generate_statistics_from_dataframe(frame[["mean_brightness"]]) for frame in (baseline, run)]
    anomalies = tfdv.validate_statistics(stats[1], schema, previous_statistics=stats[0])
    values = [m.value for info in anomalies.drift_skew_info for m in info.drift_measurements]
    assert all(value == 0 for value in values) and not anomalies.anomaly_info
    assert drift_schema({"mean_brightness": 0.01}).feature[0].drift_comparator.HasField("jensen_shannon_divergence")


def test_a_feature_without_values_on_one_side_is_listed_not_compared():
    baseline, run = _frames()
    run["in_scope_score"] = np.nan  # a model without calibration
    comparison = compare_with_baseline(baseline, run, DRIFT.thresholds(), DRIFT.histogram_buckets)
    assert "in_scope_score" not in {f.feature for f in comparison.features}
    assert comparison.not_compared == {"in_scope_score": f"no value in {N // 2} of the run's {N // 2} rows"}
