"""The parts of the DAG factory that run inside tasks, tested without a scheduler."""
from __future__ import annotations

import logging
import sys
import time

import pytest

from dermflow.config import load_config
from dermflow.orchestration.airflow_dag_factory import (
    params_to_overrides,
    pushed_model_events,
    registry_asset,
)
from dermflow.orchestration.task_commands import stream_command


def test_params_map_onto_a_valid_config():
    overrides = params_to_overrides({
        "data_root": "/data/isic 2019", "target_classes": ["NV", "BCC"], "epochs": 0, "image_size": 96,
        "overrides": ["train.batch_size=8"],
    })
    cfg = load_config(None, overrides)
    assert str(cfg.data.data_root) == "/data/isic 2019"
    assert cfg.labels.label_names() == ["NV", "BCC"] and cfg.labels.positive_label == "NV"
    assert (cfg.train.head_epochs, cfg.model.image_size, cfg.train.batch_size) == (0, 96, 8)


def test_unset_params_leave_the_config_file_alone():
    assert params_to_overrides({"data_root": None, "epochs": None, "overrides": []}) == []


def test_only_artifacts_marked_pushed_produce_asset_events():
    summary = {"outputs": {"pushed_model": [{"custom_properties": {"pushed": 0, "pushed_version": "v1"}}]}}
    assert pushed_model_events(summary) == []
    summary["outputs"]["pushed_model"][0]["custom_properties"]["pushed"] = 1
    assert pushed_model_events(summary) == [{"pushed": 1, "pushed_version": "v1"}]


def test_registry_asset_is_the_same_for_both_dags_and_absolute(tmp_path):
    cfg = load_config(None, [f"paths.registry={tmp_path}/reg"])
    asset = registry_asset(cfg)
    assert asset.uri == (tmp_path / "reg" / cfg.model_name).as_uri()
    assert asset == registry_asset(load_config(None, [f"paths.registry={tmp_path}/reg"]))


def test_stream_command_logs_lines_as_they_come(caplog):
    script = "import time; print('first', flush=True); time.sleep(1.0); print('second')"
    seen: dict[str, float] = {}

    class Stamp(logging.Handler):
        def emit(self, record):
            seen.setdefault(record.getMessage(), time.monotonic())

    handler = Stamp()
    logging.getLogger("dermflow.orchestration.task_commands").addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            stream_command([sys.executable, "-c", script])
    finally:
        logging.getLogger("dermflow.orchestration.task_commands").removeHandler(handler)
    assert seen["second"] - seen["first"] > 0.5


def test_stream_command_fails_with_the_tail_of_the_output():
    script = "import sys; print('working'); print('bad input: /nowhere', file=sys.stderr); sys.exit(3)"
    with pytest.raises(RuntimeError, match=r"(?s)status 3.*bad input: /nowhere"):
        stream_command([sys.executable, "-c", script])


def test_a_missing_data_root_fails_at_once_with_its_path(tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    from dermflow.orchestration.airflow_dag_factory import check_data_root

    check_data_root(load_config(None, [f"data.data_root={tmp_path}"]))
    with pytest.raises(AirflowFailException, match=f"data root {tmp_path / 'nowhere'} is not a folder"):
        check_data_root(load_config(None, [f"data.data_root={tmp_path / 'nowhere'}"]))
    with pytest.raises(AirflowFailException, match="no data root"):
        check_data_root(load_config())


def test_a_bad_override_fails_the_task_without_retries(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from dermflow.orchestration import airflow_dag_factory

    monkeypatch.setattr(airflow_dag_factory, "run_time_config_path", lambda path: path)
    with pytest.raises(AirflowFailException, match="image_size"):
        airflow_dag_factory.task_config(None, {"overrides": ["model.image_size=8"]})
