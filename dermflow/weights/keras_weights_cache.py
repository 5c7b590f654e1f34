"""Where Keras looks for MobileNetV2 ImageNet weights, what the files are called, and their provenance.

Keras's ``MobileNetV2(weights="imagenet")`` first looks in ``$KERAS_HOME/models/`` (default
``~/.keras/models/``, or ``/tmp/.keras`` when the home folder is not writable) for
``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<rows>[_no_top].h5``, and downloads
only when the file is missing. A ``<file>.provenance.json`` beside each file says where it came
from and which preprocessing it expects.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from dermflow.atomic_write import write_json_atomically

# The input sizes Keras publishes MobileNetV2 weights for; any other size loads the 224 file.
KERAS_ROWS: tuple[int, ...] = (96, 128, 160, 192, 224)
KERAS_DEFAULT_ROWS = 224
PROVENANCE_SUFFIX = ".provenance.json"


def default_keras_home() -> Path:
    """``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when home is not writable), as Keras decides."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"])
    home = Path(os.path.expanduser("~"))
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"


def keras_models_dir(keras_home: str | Path | None = None) -> Path:
    return Path(keras_home if keras_home is not None else default_keras_home()).expanduser() / "models"


def keras_rows(rows: int) -> int:
    """The size whose weights Keras loads for a square ``rows`` x ``rows`` input."""
    return rows if rows in KERAS_ROWS else KERAS_DEFAULT_ROWS


def mobilenet_v2_filename(alpha: float, rows: int, include_top: bool) -> str:
    suffix = "" if include_top else "_no_top"
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5"


def provenance_path(weights_path: Path) -> Path:
    return weights_path.with_name(weights_path.name + PROVENANCE_SUFFIX)


def read_provenance(weights_path: Path) -> dict[str, Any] | None:
    """The provenance written beside ``weights_path``; None when there is none."""
    path = provenance_path(weights_path)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_provenance(weights_path: Path, provenance: dict[str, Any]) -> Path:
    path = provenance_path(weights_path)
    write_json_atomically(path, provenance, indent=2, sort_keys=True)
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
