"""Temperature scaling: one scalar T > 0 with softmax(logits / T) minimising the held-out NLL.

    temperature = fit_temperature(logits, labels)       # logits [N, C], labels [N] int
    calibrated = softmax(logits / temperature)

T > 1 softens an over-confident model, T < 1 sharpens an under-confident one; the argmax (and so
every accuracy figure) is unchanged. Guo et al., "On Calibration of Modern Neural Networks" (2017).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(scaled).sum(axis=1))
    return float(np.mean(log_norm - scaled[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The NLL-minimising temperature (a bounded 1-D search over log T); 1.0 for an empty set."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)), method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))
