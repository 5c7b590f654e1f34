from typing import Literal, get_args, get_origin

import pytest

from dermflow.config import ConfigError, DermflowConfig, load_config


def test_defaults_are_mel_nv_bcc():
    cfg = load_config()
    assert cfg.labels.label_names() == ["MEL", "NV", "BCC"]
    assert cfg.labels.code_to_label() == {"MEL": "MEL", "NV": "NV", "BCC": "BCC"}


def test_binary_preset_groups_codes():
    cfg = load_config(overrides=["labels.preset=binary"])
    assert cfg.labels.label_names() == ["malignant", "benign"]
    assert cfg.labels.code_to_label()["SCC"] == "malignant"
    assert cfg.labels.code_to_label()["DF"] == "benign"


def test_all8_preset():
    assert len(load_config(overrides=["labels.preset=all8"]).labels.label_names()) == 8


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  image_size: 96\ntrain:\n  head_epochs: 1\n")
    cfg = load_config(path, ["train.head_epochs=4", "beam.extra_args=['--a=1']"])
    assert cfg.model.image_size == 96
    assert cfg.train.head_epochs == 4
    assert cfg.beam.pipeline_args()[-1] == "--a=1"


@pytest.mark.parametrize("override", ["model.imagesize=3", "labels.classes=[MEL, XYZ]", "model.weights=random", "nokey"])
def test_bad_settings_are_errors(override):
    with pytest.raises(ConfigError):
        load_config(overrides=[override])


def test_json_round_trip():
    cfg = load_config(overrides=["labels.preset=binary", "data.max_side=256"])
    assert DermflowConfig.from_json(cfg.to_json()) == cfg


def test_direct_runner_runs_on_the_fn_api_runner_without_trying_prism(caplog):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    cfg = load_config(overrides=["beam.direct_running_mode=in_memory", "beam.direct_num_workers=1"])
    with caplog.at_level("INFO"):
        pipeline = beam.Pipeline(options=PipelineOptions(cfg.beam.pipeline_args()))
        assert_that(pipeline | beam.Create([1, 2, 3]) | beam.Map(lambda x: x * 2), equal_to([2, 4, 6]))
        result = pipeline.run()
        result.wait_until_finish()

    assert "fn_api_runner" in type(result).__module__
    assert "Prism" not in caplog.text


@pytest.mark.parametrize("url", ["mysql://mlmd:secret@127.0.0.1:3306/mlmd", "mysql://mlmd:@db/mlmd"])
def test_a_password_in_the_metadata_connection_is_refused(url):
    with pytest.raises(ConfigError, match="metadata_password_file"):
        load_config(overrides=[f"paths.metadata_connection={url}"])


def test_a_metadata_connection_without_a_password_is_accepted():
    cfg = load_config(overrides=["paths.metadata_connection=mysql://mlmd@127.0.0.1:3306/mlmd"])
    assert cfg.paths.metadata_connection == "mysql://mlmd@127.0.0.1:3306/mlmd"


def _literal_values(annotation) -> list:
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    return [value for argument in get_args(annotation) for value in _literal_values(argument)]


def _keys_with_yaml_word_values() -> list[tuple[str, str]]:
    """(dotted key, value) for every config key whose allowed values hold a word YAML 1.1 reads as a boolean."""
    words = {"off", "on", "yes", "no", "y", "n"}
    return sorted(
        (f"{section}.{key}", value)
        for section, field in DermflowConfig.model_fields.items()
        for key, sub in getattr(field.annotation, "model_fields", {}).items()
        for value in _literal_values(sub.annotation)
        if isinstance(value, str) and value.lower() in words
    )


YAML_WORD_KEYS = _keys_with_yaml_word_values()


def test_the_keys_with_yaml_word_values_are_found():
    assert ("train.mixed_precision", "off") in YAML_WORD_KEYS and ("train.mixed_precision", "on") in YAML_WORD_KEYS


@pytest.mark.parametrize("key, value", YAML_WORD_KEYS)
def test_a_yaml_word_reaches_a_string_key_as_written_from_set_and_from_a_file(key, value, tmp_path):
    section, name = key.split(".")
    from_set = load_config(None, [f"{key}={value}"])
    config_file = tmp_path / "c.yaml"
    config_file.write_text(f"{section}:\n  {name}: {value}\n", encoding="utf-8")
    from_file = load_config(config_file)
    assert getattr(getattr(from_set, section), name) == value == getattr(getattr(from_file, section), name)


def test_boolean_keys_still_read_on_off_yes_no():
    cfg = load_config(None, ["train.augment=off", "trust.enabled=no", "score.write_overlays=on", "train.cache=yes"])
    assert (cfg.train.augment, cfg.trust.enabled, cfg.score.write_overlays, cfg.train.cache) == (False, False, True, True)
