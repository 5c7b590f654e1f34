"""Rows with the drift check's monitored columns, like a scoring run's, for tests of the check and its tables.

    table = monitored_rows(200, seed=0, brightness=90.0)    # BASELINE_SCHEMA: width ... prediction_set_size
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from dermflow.monitoring.drift_baseline import BASELINE_SCHEMA


def monitored_rows(n: int, seed: int = 0, brightness: float = 150.0, flagged: float = 0.05) -> pa.Table:
    """600 x 450 JPEGs of dermoscopy-like colour, three labels, ``flagged`` of them out of scope."""
    rng = np.random.default_rng(seed)
    return pa.Table.from_pydict({
        "width": np.full(n, 600, np.int32), "height": np.full(n, 450, np.int32), "format": ["jpeg"] * n,
        "mean_brightness": rng.normal(brightness, 10, n).astype(np.float32),
        "mean_red": rng.normal(190, 10, n).astype(np.float32), "mean_green": rng.normal(140, 10, n).astype(np.float32),
        "mean_blue": rng.normal(130, 10, n).astype(np.float32),
        "predicted_label": rng.choice(["NV", "MEL", "BCC"], n, p=[0.7, 0.2, 0.1]).tolist(),
        "predicted_probability": rng.beta(8, 2, n).astype(np.float32),
        "in_scope_score": rng.uniform(0.02, 1.0, n).astype(np.float32),
        "out_of_scope": (rng.random(n) < flagged).tolist(), "prediction_set_size": np.ones(n, np.int32),
    }, schema=BASELINE_SCHEMA)
