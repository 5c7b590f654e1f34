"""The features a drift check compares, as one table per side: a scoring run's rows, or the model's baseline.

    frame = feature_frame(table, ["width", "out_of_scope"])   # pandas: numeric as float, categorical as str

Both sides are columns of the predictions Parquet (``schemas/scores_schema.py``); the baseline stores the
same columns for its held-out images. Categorical values become strings before TFDV sees them
(``out_of_scope`` ``"true"``/``"false"``, ``prediction_set_size`` ``"1"``, ``"2"``, ...), so that TFDV
computes their value counts (what L-infinity compares) rather than a histogram; numeric ones become
floats (what Jensen-Shannon compares). A missing value (a model without calibration) stays missing.
"""
from __future__ import annotations

import math
from typing import Iterable

import pandas as pd
import pyarrow as pa

from dermflow.config.drift_settings import CATEGORICAL_FEATURES, IMAGE_FEATURES, NUMERIC_FEATURES

FEATURE_COLUMNS: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
JENSEN_SHANNON = "jensen_shannon_divergence"
INFINITY_NORM = "infinity_norm"


def is_numeric(feature: str) -> bool:
    if feature not in FEATURE_COLUMNS:
        raise ValueError(f"{feature!r} is not a monitored feature ({', '.join(FEATURE_COLUMNS)})")
    return feature in NUMERIC_FEATURES


def comparator_of(feature: str) -> str:
    """The TFDV comparator a feature needs: Jensen-Shannon for numeric, L-infinity for categorical ones."""
    return JENSEN_SHANNON if is_numeric(feature) else INFINITY_NORM


def feature_group(feature: str) -> str:
    return "image" if feature in IMAGE_FEATURES else "output"


def _categorical(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def feature_frame(table: pa.Table, features: Iterable[str]) -> pd.DataFrame:
    """``features`` of ``table`` (a column it lacks is all missing), typed for TFDV."""
    columns = {}
    for name in features:
        values = table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows
        if is_numeric(name):
            columns[name] = pd.Series([float("nan") if v is None else float(v) for v in values], dtype="float64")
        else:
            columns[name] = pd.Series([_categorical(v) for v in values], dtype="object")
    return pd.DataFrame(columns, index=range(table.num_rows))


def present(frame: pd.DataFrame, feature: str) -> int:
    """How many rows have a value of ``feature``."""
    return int(frame[feature].notna().sum())


def distribution_summary(frame: pd.DataFrame, feature: str, top: int = 3) -> str:
    """One short line: ``mean 143.2 (n 200)`` or ``NV 0.71, MEL 0.22, BCC 0.07 (n 200)``."""
    values = frame[feature].dropna()
    if values.empty:
        return "no values"
    if is_numeric(feature):
        return f"mean {values.mean():.4g} (n {len(values)})"
    shares = values.value_counts(normalize=True).head(top)
    return ", ".join(f"{label} {share:.2f}" for label, share in shares.items()) + f" (n {len(values)})"


def flagged_rate(frame: pd.DataFrame) -> float | None:
    """Share of rows whose ``out_of_scope`` is true; None when the model gives no flag."""
    flags = frame["out_of_scope"].dropna()
    return None if flags.empty else float((flags == "true").mean())
