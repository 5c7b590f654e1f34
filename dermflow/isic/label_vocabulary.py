"""The label vocabulary that travels with the data and the model: ``labels.txt`` + ``labels.json``.

    write_label_vocabulary(out_dir, cfg.labels, counts={"train": {"MEL": 10, ...}})
    read_label_names(out_dir)   # ["MEL", "NV", "BCC"], index order
"""
from __future__ import annotations

import json
from pathlib import Path

from dermflow.config import LabelsConfig

LABELS_TXT = "labels.txt"
LABELS_JSON = "labels.json"


def vocabulary_document(labels: LabelsConfig, counts: dict, dropped: dict, out_of_scope: dict | None = None) -> dict:
    """``counts`` {split: {label: n}} kept; ``out_of_scope`` {split: {code: n}} kept beside the splits
    (dermflow.isic.out_of_scope_examples); ``dropped`` {split: {code: n}} written nowhere (UNK, empty)."""
    return {
        "labels": labels.label_names(),
        "code_to_label": labels.code_to_label(),
        "mode": labels.mode,
        "counts": counts,
        "out_of_scope": out_of_scope or {},
        "dropped": dropped,
    }


def write_label_vocabulary(out_dir: Path, labels: LabelsConfig, counts: dict | None = None, dropped: dict | None = None,
                           out_of_scope: dict | None = None) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / LABELS_TXT).write_text("".join(f"{name}\n" for name in labels.label_names()), encoding="utf-8")
    document = vocabulary_document(labels, counts or {}, dropped or {}, out_of_scope)
    (out_dir / LABELS_JSON).write_text(json.dumps(document, indent=1), encoding="utf-8")


def read_label_names(in_dir: Path) -> list[str]:
    return [line for line in (Path(in_dir) / LABELS_TXT).read_text(encoding="utf-8").splitlines() if line]


def read_label_vocabulary(in_dir: Path) -> dict:
    return json.loads((Path(in_dir) / LABELS_JSON).read_text(encoding="utf-8"))
