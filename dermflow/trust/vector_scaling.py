"""Vector scaling: softmax(w * logits + b), one scale and one bias per class, minimising the held-out NLL.

    scale, bias = fit_vector_scaling(logits, labels)     # [C], [C]
    calibrated = softmax(logits * scale + bias)

Guo et al. (2017) sec. 4.2; temperature scaling is the case w = 1/T, b = 0. It can change the argmax
(and so the accuracy), and with 2C parameters it needs more held-out images than one temperature.
Measured against temperature scaling in benchmarks/bench_accuracy_isic_dev.py (docs/trust.md); not used
by the exported model.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def fit_vector_scaling(logits: np.ndarray, labels: np.ndarray, l2: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """(scale [C], bias [C]) by L-BFGS on the mean NLL plus ``l2`` (w - 1)^2 + b^2 (keeps tiny classes finite)."""
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels, np.int64)
    n, c = logits.shape
    if n == 0:
        return np.ones(c), np.zeros(c)
    onehot = np.eye(c)[labels]

    def loss(params):
        w, b = params[:c], params[c:]
        z = logits * w + b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        nll = -np.mean(np.log(np.maximum((p * onehot).sum(axis=1), 1e-300)))
        g = (p - onehot) / n  # d nll / d z
        grad_w = (g * logits).sum(axis=0) + 2 * l2 * (w - 1)
        grad_b = g.sum(axis=0) + 2 * l2 * b
        return nll + l2 * (((w - 1) ** 2).sum() + (b**2).sum()), np.concatenate([grad_w, grad_b])

    result = minimize(loss, np.r_[np.ones(c), np.zeros(c)], jac=True, method="L-BFGS-B")
    return result.x[:c], result.x[c:]


def apply_vector_scaling(logits: np.ndarray, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
    from dermflow.trust.temperature_scaling import softmax

    return softmax(np.asarray(logits, np.float64) * scale + bias)
