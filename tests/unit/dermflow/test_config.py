import re

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
