"""The classifier's abstention outputs, in numpy: target probabilities renormalised, and the memory signal.

    p_targets = target_probabilities(logits, num_targets, temperature)   # [N, C], rows sum to 1
    p_other = other_diagnosis_probability(logits, num_targets)          # [N]: summed abstention probability
    m = memory_score(logits, num_targets)                               # [N]: log(p_other / (1 - p_other))

A model trained with ``trust.abstention: hod`` has C target outputs followed by K abstention
outputs, one per other ISIC diagnosis of its train split (``abstention_codes``, in ISIC order).
Its softmax spreads over all C + K; the targets' share, renormalised, is what every signature
reports (``softmax(z[:, :C] / T)``: renormalising and then calibrating is one softmax over the
target logits). The abstention share is "this looks like a diagnosis the model was told about
and does not report": the out-of-scope decision's memory signal
(:mod:`dermflow.trust.out_of_scope_decision`). ``other_diagnosis_probability`` is the network's own
softmax mass, not recalibrated: a score in [0, 1] at the training's balanced class weights, not the
archive's mix. Without abstention outputs (K = 0) there is no memory signal.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from dermflow.trust.temperature_scaling import softmax


def target_logits(logits: np.ndarray, num_targets: int) -> np.ndarray:
    return np.asarray(logits, np.float64)[:, :num_targets]


def target_probabilities(logits: np.ndarray, num_targets: int, temperature: float = 1.0) -> np.ndarray:
    """[N, C]: the target outputs' probabilities renormalised over the targets, then calibrated."""
    return softmax(target_logits(logits, num_targets) / temperature)


def memory_score(logits: np.ndarray, num_targets: int) -> np.ndarray:
    """[N]: logsumexp of the abstention logits minus that of the target logits (-inf without abstention outputs)."""
    logits = np.asarray(logits, np.float64)
    if logits.shape[1] <= num_targets:
        return np.full(len(logits), -np.inf)
    return logsumexp(logits[:, num_targets:], axis=1) - logsumexp(logits[:, :num_targets], axis=1)


def other_diagnosis_probability(logits: np.ndarray, num_targets: int) -> np.ndarray:
    """[N]: the summed softmax probability of the abstention outputs (0 without them)."""
    logits = np.asarray(logits, np.float64)
    return softmax(logits)[:, num_targets:].sum(axis=1)
