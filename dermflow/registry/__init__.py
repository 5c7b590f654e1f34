"""The versioned model registry (``model_registry``): publish, list and resolve model versions.

    registered = resolve_model("var/registry")            # the LATEST version of the default model
    registered.saved_model_dir, registered.labels, registered.read_json("metrics.json")
"""
from dermflow.registry.model_registry import (
    CONFIG_FILE, KERAS_FILE, LABELS_FILE, LATEST, METRICS_FILE, PROVENANCE_FILE, SAVED_MODEL_DIR,
    RegisteredModel, RegistryError, list_versions, new_version, publish_version, read_labels, resolve_model,
)

__all__ = [
    "CONFIG_FILE", "KERAS_FILE", "LABELS_FILE", "LATEST", "METRICS_FILE", "PROVENANCE_FILE", "SAVED_MODEL_DIR",
    "RegisteredModel", "RegistryError", "list_versions", "new_version", "publish_version", "read_labels", "resolve_model",
]
