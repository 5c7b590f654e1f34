from __future__ import annotations

from pathlib import Path

from dermflow.config import load_config
from dermflow.demo import REPO_ROOT, format_summary, resolved_demo_config


def test_demo_config_has_absolute_paths_and_falls_back_to_random_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    cfg = load_config(resolved_demo_config(tmp_path))
    assert cfg.paths.registry == REPO_ROOT / "var" / "demo" / "registry"
    assert cfg.airflow.score_output.is_absolute() and cfg.paths.work_dir.is_absolute()
    assert (cfg.model.weights, cfg.model.alpha) == ("none", 0.35)
    assert "random weights" in capsys.readouterr().out
    assert cfg.eval.min_balanced_accuracy == 0.0  # the demo must push, so that scoring has a model


def test_summary_says_where_everything_is_and_how_to_query_it():
    text = format_summary({
        "model": "/r/m/v1", "report": "/r/m/v1/report/report.html", "predictions": "/s/predictions",
        "errors": "/s/errors", "airflow_home": "/a", "logs": "/l",
    })
    for expected in ("/r/m/v1/report/report.html", "read_parquet('/s/predictions/**/*.parquet'", "duckdb"):
        assert expected in text


def test_progress_keeps_task_starts_ends_run_states_and_errors():
    from dermflow.demo import progress_message

    assert progress_message("2026 [info ] [DAG TEST] end task task_id=Trainer map_index=-1 [x]") == "Trainer finished"
    assert progress_message("DagRun Finished: dag_id=dermflow_score, logical_date=x, state=success, run_type=m") == (
        "dermflow_score run: success")
    assert progress_message("NodeFailedError: TFX node IsicExampleGen failed: no CSV") == (
        "NodeFailedError: TFX node IsicExampleGen failed: no CSV")
    assert progress_message("[info ] Resolved inputs: {...}") is None


def test_the_demo_ends_with_the_serve_command_for_its_own_results_and_the_users_add_line():
    import shlex

    text = format_summary({
        "model": "/r/m/v1", "report": "/r/m/v1/report/report.html", "predictions": "/s/predictions",
        "errors": "/s/errors", "airflow_home": "/a", "logs": "/l", "registry": "/r/m", "scores": "/s",
        "source_root": "/d/archive/ISIC_2019_Training_Input",
    })
    lines = text.splitlines()
    serve = next(line for line in lines if " serve " in line)
    argv = shlex.split(serve)
    assert argv[0].endswith("/dermflow") and argv[1] == "serve"
    assert argv[argv.index("--model") + 1] == "/r/m" and argv[argv.index("--results") + 1] == "/s"
    assert argv[argv.index("--source-root") + 1] == "/d/archive/ISIC_2019_Training_Input"
    users = shlex.split(next(line for line in lines if " users add " in line).split("#")[0])
    assert users[1:3] == ["users", "add"] and users[-2:] == ["--role", "reviewer"]
    assert lines.index(next(line for line in lines if " users add " in line)) > lines.index(
        next(line for line in lines if "duckdb" in line))  # the next step comes last
