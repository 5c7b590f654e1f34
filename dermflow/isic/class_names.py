"""What ISIC's codes mean, in words: the one code -> name table of the project.

    ISIC_CLASS_NAMES["MEL"]                        # "melanoma"
    names = label_names(["MEL", "NV", "malignant"], groups={"malignant": ["MEL", "BCC"]})
    shown("MEL", names)                            # "melanoma (MEL)"

The exporter records the names of a model's labels in its ``labels.json``
(:func:`label_document`); a model exported before that falls back to this table.
"""
from __future__ import annotations

from typing import Mapping, Sequence

ISIC_CLASS_NAMES: dict[str, str] = {
    "MEL": "melanoma",
    "NV": "melanocytic nevus",
    "BCC": "basal cell carcinoma",
    "AK": "actinic keratosis",
    "BKL": "benign keratosis",
    "DF": "dermatofibroma",
    "VASC": "vascular lesion",
    "SCC": "squamous cell carcinoma",
    "UNK": "none of the other diagnoses",
}


def label_names(labels: Sequence[str], groups: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """label -> name: an ISIC code's name; a group (e.g. ``malignant``) named by itself and its codes."""
    groups = groups or {}
    names = {}
    for label in labels:
        if label in ISIC_CLASS_NAMES:
            names[label] = ISIC_CLASS_NAMES[label]
        elif groups.get(label):
            names[label] = f"{label}: " + ", ".join(ISIC_CLASS_NAMES.get(code, code) for code in groups[label])
        else:
            names[label] = label
    return names


def shown(label: str, names: Mapping[str, str] | None = None) -> str:
    """``melanoma (MEL)``: the name with the code beside it (a label without a name: the label alone)."""
    name = (names or {}).get(label) or ISIC_CLASS_NAMES.get(label)
    return f"{name} ({label})" if name and name != label else label


def label_document(labels: Sequence[str], groups: Mapping[str, Sequence[str]] | None = None) -> dict:
    """What an exported model's ``labels.json`` holds: the labels in index order, their names and ISIC codes."""
    groups = groups or {}
    return {
        "labels": list(labels),
        "names": label_names(labels, groups),
        "codes": {label: list(groups.get(label) or ([label] if label in ISIC_CLASS_NAMES else [])) for label in labels},
    }
