"""The whole config and how it is read: defaults, then a YAML file, then ``key.path=value`` overrides.

    cfg = load_config("configs/demo.yaml", ["model.image_size=96"])   # ConfigError names every bad key
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from dermflow.config.config_base import Section
from dermflow.config.data_settings import DataConfig, LabelsConfig
from dermflow.config.training_settings import (
    DEFAULT_TRAIN_PRESET,
    EvalConfig,
    ModelConfig,
    TRAIN_PRESETS,
    TrainConfig,
    TrustConfig,
)
from dermflow.config.scoring_settings import BeamConfig, ScoreConfig
from dermflow.config.service_settings import (
    AirflowConfig,
    ClusterConfig,
    PathsConfig,
    RetrainConfig,
    ReviewConfig,
    ServeConfig,
)
from dermflow.config.drift_settings import DriftConfig


class DermflowConfig(Section):
    pipeline_name: str = Field("dermflow", description="TFX pipeline name (ML Metadata contexts).")
    model_name: str = Field("dermflow_mobilenet_v2", description="Registry name the pushed versions go under.")
    data: DataConfig = Field(default_factory=DataConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    trust: TrustConfig = Field(default_factory=TrustConfig)
    beam: BeamConfig = Field(default_factory=BeamConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    airflow: AirflowConfig = Field(default_factory=AirflowConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)

    @model_validator(mode="before")
    @classmethod
    def _apply_train_preset(cls, values: Any) -> Any:
        """Fills ``train.preset``'s settings into ``model`` and ``train`` where the config names none."""
        if not isinstance(values, dict):
            return values
        train = values.get("train")
        if isinstance(train, BaseModel):
            return values  # already validated: its preset was applied then
        preset = (train or {}).get("preset", DEFAULT_TRAIN_PRESET)
        filled = TRAIN_PRESETS.get(preset)
        if not filled:
            return values
        values = dict(values)
        for section, settings in filled.items():
            given = values.get(section)
            if isinstance(given, BaseModel):
                continue
            merged = dict(given or {})
            for key, value in settings.items():
                merged.setdefault(key, value)
            values[section] = merged
        return values

    def to_json(self) -> str:
        """Serialises the whole config; ``DermflowConfig.from_json`` reads it back (TFX exec properties use this)."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> "DermflowConfig":
        return cls.model_validate(json.loads(text))


class ConfigError(ValueError):
    """A configuration file or override is wrong; the message says which key and why."""


class ConfigYamlLoader(yaml.SafeLoader):
    """YAML as dermflow's config reads it: only ``true``/``false`` are booleans (YAML 1.2), so ``off``, ``on``,
    ``yes`` and ``no`` reach string-valued keys as written (``train.mixed_precision: off``); a boolean key
    still takes them, as pydantic reads those words."""


ConfigYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":  # the bool resolver, keyed by first character, for the YAML 1.2 words only
    ConfigYamlLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list(_first))


def read_config_yaml(text: str) -> Any:
    """A config file's or a ``--set`` value's YAML, read by :class:`ConfigYamlLoader`."""
    return yaml.load(text, Loader=ConfigYamlLoader)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``a.b=value`` -> (["a", "b"], value); the value is read as a config file's YAML (numbers, lists, null)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key.path=value")
    key, raw = item.split("=", 1)
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise ConfigError(f"override {item!r} has an empty key")
    try:
        value = read_config_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for item in overrides:
        path, value = parse_override(item)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[path[-1]] = value
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> DermflowConfig:
    """Defaults, then the YAML file at ``path`` (if any), then ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        loaded = read_config_yaml(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        data = loaded
    apply_overrides(data, list(overrides or []))
    try:
        return DermflowConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {validation_summary(exc)}") from exc


def validation_summary(exc: ValidationError) -> str:
    """One line naming every bad key: ``model.image_size: ... (got 64); train.epochs: unknown key``."""
    parts = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            parts.append(f"{key}: unknown key")
            continue
        message = error["msg"].removeprefix("Value error, ")
        got = "" if error["type"].startswith("value_error") else f" (got {error.get('input')!r})"
        parts.append(f"{key}: {message}{got}")
    return "; ".join(parts)
