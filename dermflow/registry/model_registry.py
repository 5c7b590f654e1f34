"""The versioned model registry.

    <registry>/<model_name>/<version>/saved_model/       SavedModel with the four signatures
                                      model.keras        the Keras model
                                      labels.txt         one label per line, in index order
                                      metrics.json       evaluation metrics (TFMA)
                                      provenance.json    weights, data, config, pipeline run
                                      config.json        the DermflowConfig that trained it
                                      calibration.json   temperature, out-of-scope threshold, conformal
                                                         quantile and their figures (docs/trust.md)
    <registry>/<model_name>/LATEST                       the newest pushed version, written atomically

A version directory appears complete or not at all: it is assembled under a hidden temp
name and renamed into place, then LATEST is replaced by rename. Readers that follow
LATEST never see a half-written model.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dermflow.atomic_write import write_text_atomically

LATEST = "LATEST"
SAVED_MODEL_DIR = "saved_model"
KERAS_FILE = "model.keras"
LABELS_FILE = "labels.txt"
METRICS_FILE = "metrics.json"
PROVENANCE_FILE = "provenance.json"
CONFIG_FILE = "config.json"
CALIBRATION_FILE = "calibration.json"
# Where the exporter (dermflow.models.export_layout) writes it inside the SavedModel directory.
EXPORTED_CALIBRATION = Path("assets.extra") / CALIBRATION_FILE


class RegistryError(LookupError):
    """A model spec that does not resolve; the message says what was looked for and what exists."""


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    path: Path

    @property
    def saved_model_dir(self) -> Path:
        return self.path / SAVED_MODEL_DIR

    @property
    def keras_file(self) -> Path:
        return self.path / KERAS_FILE

    @property
    def labels(self) -> list[str]:
        return read_labels(self.path / LABELS_FILE)

    def read_json(self, name: str) -> dict:
        file = self.path / name
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}


def read_labels(path: Path) -> list[str]:
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def new_version(now: datetime | None = None) -> str:
    """A UTC timestamp, so versions sort by time: 20261123T130501Z."""
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def publish_version(
    registry: Path,
    model_name: str,
    saved_model_dir: Path,
    keras_file: Path,
    labels: list[str],
    metrics: dict,
    provenance: dict,
    config_json: str,
    version: str | None = None,
) -> RegisteredModel:
    """Copies a trained model into ``<registry>/<model_name>/<version>/`` and moves LATEST to it."""
    model_root = Path(registry) / model_name
    model_root.mkdir(parents=True, exist_ok=True)
    version = version or new_version()
    final = model_root / version
    if final.exists():
        raise RegistryError(f"{final} already exists: versions are immutable")
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=model_root))
    try:
        shutil.copytree(saved_model_dir, staging / SAVED_MODEL_DIR)
        shutil.copy2(keras_file, staging / KERAS_FILE)
        (staging / LABELS_FILE).write_text("\n".join(labels) + "\n", encoding="utf-8")
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
        (staging / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True), encoding="utf-8")
        (staging / CONFIG_FILE).write_text(config_json, encoding="utf-8")
        if (Path(saved_model_dir) / EXPORTED_CALIBRATION).is_file():
            shutil.copy2(Path(saved_model_dir) / EXPORTED_CALIBRATION, staging / CALIBRATION_FILE)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_text_atomically(model_root / LATEST, version + "\n")
    return RegisteredModel(model_name, version, final)


def list_versions(registry: Path, model_name: str) -> list[str]:
    root = Path(registry) / model_name
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def resolve_model(spec: str | Path, default_name: str | None = None) -> RegisteredModel:
    """``REGISTRY``, ``REGISTRY/NAME`` or ``REGISTRY/NAME/VERSION`` -> the model version to use.

    Without a version, LATEST decides. Without a name, the registry must hold exactly one model
    (or ``default_name``).
    """
    path = Path(spec)
    if (path / SAVED_MODEL_DIR).is_dir():
        return RegisteredModel(path.parent.name, path.name, path)
    if (path / LATEST).is_file():
        version = (path / LATEST).read_text(encoding="utf-8").strip()
        if not (path / version / SAVED_MODEL_DIR).is_dir():
            raise RegistryError(f"{path / LATEST} points to version {version!r}, which has no {SAVED_MODEL_DIR}/")
        return RegisteredModel(path.name, version, path / version)
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if (p / LATEST).is_file())
        if default_name in names:
            return resolve_model(path / default_name)
        if len(names) == 1:
            return resolve_model(path / names[0])
        if names:
            raise RegistryError(f"registry {path} holds several models {names}: name one, e.g. {path / names[0]}")
        raise RegistryError(f"no pushed model under {path} (no <name>/LATEST found); run `dermflow train` first")
    raise RegistryError(f"model not found: {path}")
