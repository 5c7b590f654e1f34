import json

import pytest

from dermflow.registry import model_registry as registry


def _publish(tmp_path, version):
    saved = tmp_path / "src" / "saved_model"
    saved.mkdir(parents=True, exist_ok=True)
    (saved / "saved_model.pb").write_bytes(b"pb")
    keras_file = tmp_path / "src" / "model.keras"
    keras_file.write_bytes(b"keras")
    return registry.publish_version(
        tmp_path / "reg", "m", saved, keras_file, ["MEL", "NV"], {"bma": 0.9}, {"weights": "x"}, "{}", version=version
    )


def test_publish_then_resolve_follows_latest(tmp_path):
    _publish(tmp_path, "20260101T000000Z")
    second = _publish(tmp_path, "20260102T000000Z")
    resolved = registry.resolve_model(tmp_path / "reg")
    assert resolved == second
    assert resolved.labels == ["MEL", "NV"]
    assert json.loads((resolved.path / registry.METRICS_FILE).read_text()) == {"bma": 0.9}
    assert registry.resolve_model(tmp_path / "reg" / "m" / "20260101T000000Z").version == "20260101T000000Z"
    assert registry.list_versions(tmp_path / "reg", "m") == ["20260101T000000Z", "20260102T000000Z"]
    assert not [p for p in (tmp_path / "reg" / "m").iterdir() if p.name.startswith(".")]


def test_versions_are_immutable(tmp_path):
    _publish(tmp_path, "20260101T000000Z")
    with pytest.raises(registry.RegistryError, match="immutable"):
        _publish(tmp_path, "20260101T000000Z")


def test_empty_registry_says_how_to_fill_it(tmp_path):
    (tmp_path / "reg").mkdir()
    with pytest.raises(registry.RegistryError, match="dermflow train"):
        registry.resolve_model(tmp_path / "reg")
