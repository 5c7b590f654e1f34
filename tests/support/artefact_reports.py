"""Artefact-check figures for tests, in the forms the pipeline writes them."""
from __future__ import annotations

# metrics.json["artefacts"] as the RegistryPusher writes it (dermflow/evaluation/artefact_summary.py:metrics_summary).
ARTEFACT_SUMMARY = {
    "passed": True, "gated": True, "max_flip_rate": 0.05, "failed_kinds": [], "images": {"MEL": 10, "NV": 20, "BCC": 5},
    "reason": "artefact check passed: every artefact changes at most 5% of labels (worst: ruler 2.0%)",
    "lesion_mass_clean": 0.55,
    "per_artefact": {"ruler": {"flip_rate": 0.02, "max_class_flip_rate": 0.05, "lesion_mass_after": 0.5,
                               "per_class_flip_rate": {"MEL": 0.0, "NV": 0.05, "BCC": 0.0},
                               "per_class_flipped_to": {"MEL": {}, "NV": {"MEL": 1}, "BCC": {}}}},
}
