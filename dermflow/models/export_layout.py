"""Where things are inside an exported model directory, readable without TensorFlow.

    <export_dir>/saved_model.pb, variables/       the SavedModel (model_exporter.SIGNATURES)
    <export_dir>/assets.extra/model.keras          the Keras model
                             labels.txt            one label per line, in index order
                             labels.json           labels, their names and ISIC codes (dermflow.isic.class_names)
                             weights_provenance.json  backbone, weights, image_size, image_path
                             calibration.json      what dermflow.trust fitted, and its figures
                             drift_baseline.pq     what scoring runs are compared with (dermflow.monitoring)

    labels = read_exported_labels(export_dir); provenance = read_export_provenance(export_dir)
    image_path = read_export_image_path(export_dir, max_pixels)   # how files must be prepared for it
"""
from __future__ import annotations

import json
from pathlib import Path

from dermflow.imaging.model_input import ImagePathSettings
from dermflow.isic.class_names import label_names

EXTRAS_DIR = "assets.extra"
KERAS_FILE = "model.keras"
LABELS_FILE = "labels.txt"
LABEL_NAMES_FILE = "labels.json"
PROVENANCE_FILE = "weights_provenance.json"
CALIBRATION_FILE = "calibration.json"  # temperature, out-of-scope threshold, conformal quantile, ECE (docs/trust.md)
DRIFT_BASELINE_FILE = "drift_baseline.pq"  # the held-out split through scoring's path (dermflow.monitoring.drift_baseline)


def read_exported_labels(export_dir: str | Path) -> list[str]:
    text = (Path(export_dir) / EXTRAS_DIR / LABELS_FILE).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


def read_exported_label_names(export_dir: str | Path) -> dict[str, str]:
    """label -> name, as the export recorded it; a model exported before that: from the ISIC table."""
    labels = read_exported_labels(export_dir)
    path = Path(export_dir) / EXTRAS_DIR / LABEL_NAMES_FILE
    recorded = json.loads(path.read_text(encoding="utf-8")).get("names", {}) if path.is_file() else {}
    return {**label_names(labels), **{label: name for label, name in recorded.items() if label in labels}}


def read_export_provenance(export_dir: str | Path) -> dict:
    """The exported model's own provenance; ``{}`` for a model exported without one."""
    path = Path(export_dir) / EXTRAS_DIR / PROVENANCE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def read_export_image_path(export_dir: str | Path, max_pixels: int) -> ImagePathSettings:
    """How files must be prepared for this model; raises LegacyImagePathError for a model exported without the record."""
    record = read_export_provenance(export_dir).get("image_path")
    return ImagePathSettings.from_provenance(record, max_pixels, model=str(export_dir))


def read_export_calibration(export_dir: str | Path) -> dict:
    """The exported model's calibration.json; ``{}`` for a model exported before it existed."""
    path = Path(export_dir) / EXTRAS_DIR / CALIBRATION_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
