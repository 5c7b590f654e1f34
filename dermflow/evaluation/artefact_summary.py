"""The artefact check's figures and its gate, as JSON (``artefact_check.json``, ``metrics.json["artefacts"]``).

    report = summarise(measured, labels=["MEL", "NV", "BCC"], max_flip_rate=0.05)
    report["passed"], report["reason"], report["artefacts"]["ruler"]["flip_rate"]

Per artefact and true class: ``n``, ``flips`` (predicted labels that changed against the control,
the same image re-encoded without the artefact), ``flip_rate`` with a Wilson 95% interval,
``flipped_to`` (label -> count), ``mean_probability_change`` (label -> mean of p(after) - p(control)),
and the median share of Grad-CAM mass inside the lesion before (control) and after. Per artefact:
``flip_rate`` = the mean of the per-class flip rates (each class counts the same, as in the balanced
accuracy), ``flip_rate_pooled``, ``max_class_flip_rate``. The gate fails an artefact of ``gate_kinds``
whose ``flip_rate`` exceeds ``max_flip_rate``; ``reason`` names each failing artefact and where its flips went.
"""
from __future__ import annotations

import math

import numpy as np

from dermflow.evaluation.artefact_check import Measurements

SCHEMA_VERSION = 1
# The ArtefactCheck component's output (and its copy in a registry version's saved_model/assets.extra/artefact_check/).
REPORT_FILE = "artefact_check.json"
MEASUREMENTS_FILE = "measurements.npz"
EXAMPLES_DIR = "examples"
EXAMPLES_FILE = "examples.json"
PASSED_PROPERTY = "passed"
VERSION_FOLDER = "artefact_check"  # where the RegistryPusher copies the report and examples: saved_model/assets.extra/<this>


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sensible at 0 and n as well)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return round(float(np.median(values)), 4) if len(values) else None


def _class_figures(measured: Measurements, variant: int, rows: np.ndarray, labels: list[str]) -> dict:
    predicted = measured.predicted()
    control = predicted[rows, 1]
    after = predicted[rows, variant]
    flipped = after != control
    flips = int(flipped.sum())
    change = (measured.probabilities[rows, variant] - measured.probabilities[rows, 1]).mean(axis=0) if len(rows) else None
    destinations = {labels[i]: int(((after == i) & flipped).sum()) for i in range(len(labels))}
    low, high = wilson_interval(flips, len(rows))
    return {
        "n": int(len(rows)),
        "flips": flips,
        "flip_rate": round(flips / len(rows), 4) if len(rows) else None,
        "flip_rate_interval": [round(low, 4), round(high, 4)],
        "flipped_to": {label: count for label, count in destinations.items() if count},
        "mean_probability_change": {} if change is None else {labels[i]: round(float(change[i]), 4) for i in range(len(labels))},
        "lesion_mass_before": _median(measured.lesion_mass[rows, 1]),
        "lesion_mass_after": _median(measured.lesion_mass[rows, variant]),
    }


def summarise(measured: Measurements, labels: list[str], max_flip_rate: float | None, seed: int = 0,
              gate_kinds: tuple[str, ...] | list[str] | None = None) -> dict:
    """The figures of every artefact and class, and the gate's verdict on ``gate_kinds`` (None: every kind measured)."""
    gate_kinds = tuple(measured.kinds if gate_kinds is None else gate_kinds)
    present = [c for c in range(len(labels)) if (measured.labels == c).any()]
    artefacts = {}
    predicted = measured.predicted()
    for offset, kind in enumerate(measured.kinds):
        variant = offset + 2
        per_class = {labels[c]: _class_figures(measured, variant, np.flatnonzero(measured.labels == c), labels) for c in present}
        rates = [figures["flip_rate"] for figures in per_class.values()]
        flips = predicted[:, variant] != predicted[:, 1]
        balanced = round(float(np.mean(rates)), 4) if rates else 0.0
        artefacts[kind] = {
            "flip_rate": balanced,
            "flip_rate_pooled": round(float(flips.mean()), 4) if len(flips) else 0.0,
            "max_class_flip_rate": max(rates) if rates else 0.0,
            "lesion_mass_before": _median(measured.lesion_mass[:, 1]),
            "lesion_mass_after": _median(measured.lesion_mass[:, variant]),
            "gated": max_flip_rate is not None and kind in gate_kinds,
            "passed": max_flip_rate is None or kind not in gate_kinds or balanced <= max_flip_rate,
            "per_class": per_class,
        }
    failed = [kind for kind, figures in artefacts.items() if not figures["passed"]]
    reencoded = predicted[:, 1] != predicted[:, 0]
    return {
        "schema_version": SCHEMA_VERSION,
        "labels": list(labels),
        "images": {labels[c]: int((measured.labels == c).sum()) for c in present},
        "kinds": list(measured.kinds),
        "seed": seed,
        "max_flip_rate": max_flip_rate,
        "gated": max_flip_rate is not None,
        "gate_kinds": [kind for kind in measured.kinds if kind in gate_kinds],
        "passed": not failed,
        "failed_kinds": failed,
        "reason": gate_reason(artefacts, failed, max_flip_rate, labels),
        "reencoded_flip_rate": round(float(reencoded.mean()), 4) if len(reencoded) else 0.0,
        "lesion_mass_clean": _median(measured.lesion_mass[:, 1]),
        "mask_sources": {source: measured.mask_source.count(source) for source in sorted(set(measured.mask_source))},
        "artefacts": artefacts,
    }


def gate_reason(artefacts: dict, failed: list[str], max_flip_rate: float | None, labels: list[str]) -> str:
    if max_flip_rate is None:
        return "artefact check: measured, not gated (eval.max_artefact_flip_rate is null)"
    if not artefacts:
        return "artefact check: no images were checked"
    gated = [kind for kind, figures in artefacts.items() if figures["gated"]]
    if not gated:
        return "artefact check: measured, no artefact gated (eval.artefact_gate_kinds is empty)"
    if not failed:
        worst = max(gated, key=lambda kind: artefacts[kind]["flip_rate"])
        return (f"artefact check passed: {', '.join(gated)} each change at most {max_flip_rate:.0%} of labels "
                f"(worst: {worst} {artefacts[worst]['flip_rate']:.1%})")
    parts = []
    for kind in failed:
        figures = artefacts[kind]
        moves = [f"{name} {c['flips']}/{c['n']}" + (" -> " + ", ".join(f"{to} {k}" for to, k in c["flipped_to"].items())
                                                    if c["flipped_to"] else "")
                 for name, c in figures["per_class"].items() if c["flips"]]
        parts.append(f"{kind} changes {figures['flip_rate']:.1%} of labels ({'; '.join(moves)})")
    return f"artefact check failed (eval.max_artefact_flip_rate {max_flip_rate:.1%}): " + "; ".join(parts)


def metrics_summary(report: dict) -> dict:
    """The compact form kept in ``metrics.json["artefacts"]`` and shown by ``/api/v1/model``."""
    return {
        "passed": report["passed"],
        "gated": report["gated"],
        "gate_kinds": report.get("gate_kinds", []),
        "max_flip_rate": report["max_flip_rate"],
        "failed_kinds": report["failed_kinds"],
        "reason": report["reason"],
        "images": report["images"],
        "lesion_mass_clean": report["lesion_mass_clean"],
        "per_artefact": {
            kind: {
                "flip_rate": figures["flip_rate"],
                "max_class_flip_rate": figures["max_class_flip_rate"],
                "lesion_mass_after": figures["lesion_mass_after"],
                "per_class_flip_rate": {name: c["flip_rate"] for name, c in figures["per_class"].items()},
                "per_class_flipped_to": {name: c["flipped_to"] for name, c in figures["per_class"].items()},
            }
            for kind, figures in report["artefacts"].items()
        },
    }
