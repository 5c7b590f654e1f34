"""How well an out-of-scope score separates the other diagnoses from the targets: AUROC and flag rates.

    auroc(target_scores, other_scores)                        # P(other > target), ties count one half
    figures = out_of_scope_figures(target_scores, other_scores, other_codes, target_flags, other_flags)

Every score grows with "out of scope" (distance, 1 - in_scope_score, 1 - max probability).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc(negative_scores: np.ndarray, positive_scores: np.ndarray) -> float:
    """Area under the ROC curve of positives (out of scope) against negatives (Mann-Whitney U / n_neg n_pos)."""
    negative = np.asarray(negative_scores, np.float64).ravel()
    positive = np.asarray(positive_scores, np.float64).ravel()
    if negative.size == 0 or positive.size == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([negative, positive]))
    u = ranks[negative.size:].sum() - positive.size * (positive.size + 1) / 2.0
    return float(u / (negative.size * positive.size))


def out_of_scope_figures(target_scores, other_scores, other_codes, target_flags=None, other_flags=None) -> dict:
    """AUROC of the other diagnoses vs the targets (overall and per code), counts, and flag rates when flags are given."""
    target_scores = np.asarray(target_scores, np.float64)
    other_scores = np.asarray(other_scores, np.float64)
    other_codes = np.asarray(other_codes).astype(str)
    figures = {"targets": int(target_scores.size), "others": int(other_scores.size),
               "auroc": auroc(target_scores, other_scores)}
    if target_flags is not None:
        figures["target_flag_rate"] = float(np.mean(target_flags)) if target_scores.size else float("nan")
    if other_flags is not None:
        figures["other_flag_rate"] = float(np.mean(other_flags)) if other_scores.size else float("nan")
    per_class = {}
    for code in sorted(set(other_codes.tolist())):
        mask = other_codes == code
        row = {"count": int(mask.sum()), "auroc": auroc(target_scores, other_scores[mask])}
        if other_flags is not None:
            row["flag_rate"] = float(np.asarray(other_flags)[mask].mean())
        per_class[code] = row
    figures["per_class"] = per_class
    return figures
