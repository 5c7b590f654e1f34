import re
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


def test_the_review_store_defaults_to_a_sqlite_file_under_var_and_names_its_settings():
    review = load_config().review
    assert review.database_url == "sqlite:///var/review/review.sqlite" and review.password_file is None
    assert review.training_bases == ["histopathology", "consensus"] and review.queue_melanoma_band == [0.3, 0.7]
    assert 0 < review.audit_share < 1 and review.session_hours > 0 and review.login_max_failures >= 1


@pytest.mark.parametrize(("override", "message"), [
    ("review.database_url=postgresql://review:secret@db:5432/review", "review.password_file (REVIEW_DB_PASSWORD=...)"),
    ("review.database_url=mysql://review@db/review", "must start with one of sqlite://, postgresql://"),
    ("review.database_url=sqlite://", "needs a file"),
    ("review.queue_melanoma_band=[0.7, 0.3]", "0 <= low < high <= 1"),
    ("review.queue_melanoma_band=[0.3]", "0 <= low < high <= 1"),
    ("review.training_bases=[]", "review.training_bases"),
    ("review.training_bases=[biopsy]", "'histopathology', 'consensus', 'follow_up' or 'single_expert'"),
    ("review.audit_share=1.5", "review.audit_share"),
    ("review.session_hours=0", "review.session_hours"),
])
def test_wrong_review_settings_are_refused(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        load_config(overrides=[override])
    assert "secret" not in str(refused.value)


def test_postgres_without_a_password_and_a_password_file_are_accepted(tmp_path):
    cfg = load_config(overrides=["review.database_url=postgresql+psycopg2://review@db:5432/review",
                                 f"review.password_file={tmp_path}/secrets.env", "review.training_bases=[follow_up]"])
    assert cfg.review.password_file == tmp_path / "secrets.env" and cfg.review.training_bases == ["follow_up"]


def test_clinical_results_are_off_by_default_and_need_a_folder():
    score = load_config().score
    assert (score.dicom_results, score.fhir_results, score.clinical_results_dir, score.dicomweb_url) == ("none", False, None, None)
    assert not score.clinical_results_on()
    on = load_config(overrides=["score.dicom_results=sr", "score.clinical_results_dir=/srv/clinical",
                                "score.dicomweb_url=http://pacs:8042/dicom-web/"]).score
    assert on.clinical_results_on() and on.dicomweb_url == "http://pacs:8042/dicom-web"
    assert load_config(overrides=["score.dicom_results=none"]).score.dicom_results == "none"  # not YAML's null


@pytest.mark.parametrize("overrides, message", [
    (["score.dicom_results=sr"], "score.clinical_results_dir is required"),
    (["score.fhir_results=true"], "score.clinical_results_dir is required"),
    (["score.dicom_results=off", "score.clinical_results_dir=/c"], "Input should be 'none' or 'sr'"),
    (["score.dicom_results=sr", "score.clinical_results_dir=/c", "score.dicomweb_url=ftp://pacs/dw"], "http:// or https://"),
    (["score.dicom_results=sr", "score.clinical_results_dir=/c", "score.dicomweb_url=http://me:pw@pacs/dw"], "must not hold credentials"),
    (["score.dicomweb_url=http://pacs/dw"], "score.dicom_results is 'none'"),
    (["score.dicomweb_store_attempts=0"], "score.dicomweb_store_attempts"),
])
def test_clinical_result_mistakes_are_one_line(overrides, message):
    with pytest.raises(ConfigError) as raised:
        load_config(overrides=overrides)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_artefact_settings_and_their_defaults():
    cfg = DermflowConfig()
    assert cfg.eval.max_artefact_flip_rate == 0.05 and cfg.eval.artefact_check_images == 200
    assert cfg.train.artefact_augmentation is True and cfg.train.artefact_probability == 0.2
    assert cfg.eval.artefact_kinds == cfg.train.artefact_kinds == ["ruler", "ink", "dark_corners", "gel_bubbles", "hair", "patch"]
    assert cfg.model.inpaint_artefacts is False
    assert cfg.eval.artefact_gate_kinds == ["ruler", "ink", "dark_corners", "patch"]  # beside the lesion
    assert load_config(overrides=["eval.max_artefact_flip_rate=null"]).eval.max_artefact_flip_rate is None
    fast = load_config(overrides=["train.preset=fast"])
    assert fast.train.feature_cache and fast.train.artefact_augmentation  # the cache holds artefacts too
    with pytest.raises(ConfigError, match="eval.artefact_kinds"):
        load_config(overrides=["eval.artefact_kinds=[ruler, sticker]"])
    with pytest.raises(ConfigError, match="train.artefact_probability"):
        load_config(overrides=["train.artefact_probability=1.5"])


def test_direct_runner_args_keep_tfx_from_repackaging_itself_into_a_temporary_folder(tmp_path, monkeypatch):
    from tfx.utils import dependency_utils

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    args = load_config().beam.pipeline_args()

    assert dependency_utils.make_beam_dependency_flags(args) == args
    assert list(tmp_path.iterdir()) == []


def test_direct_runner_runs_with_its_dependency_flag_in_worker_processes():
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    cfg = load_config(overrides=["beam.direct_running_mode=multi_processing", "beam.direct_num_workers=2"])
    with beam.Pipeline(options=PipelineOptions(cfg.beam.pipeline_args())) as pipeline:
        assert_that(pipeline | beam.Create([1, 2, 3]) | beam.Map(lambda x: x * 2), equal_to([2, 4, 6]))
