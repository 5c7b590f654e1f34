"""TFX artifacts at a folder, for executor tests that call ``Executor().Do`` directly.

    model = artifact_at(standard_artifacts.Model, tmp_path / "model")   # its uri made
"""
from __future__ import annotations

from pathlib import Path


def artifact_at(cls, uri: Path):
    artifact = cls()
    artifact.uri = str(uri)
    uri.mkdir(parents=True, exist_ok=True)
    return artifact
