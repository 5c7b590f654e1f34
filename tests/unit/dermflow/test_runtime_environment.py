"""The KERAS_HOME / AIRFLOW_HOME / TF_CPP_MIN_LOG_LEVEL rule every entry point applies."""
from __future__ import annotations

from pathlib import Path

from dermflow import runtime_environment
from dermflow.runtime_environment import apply_runtime_environment, repository_checkout, runtime_defaults

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_a_checkout_uses_its_own_var_folders():
    assert repository_checkout() == REPO_ROOT
    environ: dict[str, str] = {}
    applied = apply_runtime_environment(environ)
    assert environ == applied == {
        "KERAS_HOME": str(REPO_ROOT / "var" / "keras"),
        "AIRFLOW_HOME": str(REPO_ROOT / "var" / "airflow"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def test_an_explicit_value_wins():
    environ = {"KERAS_HOME": "/elsewhere/keras", "AIRFLOW_HOME": "/elsewhere/airflow", "TF_CPP_MIN_LOG_LEVEL": "0"}
    assert apply_runtime_environment(environ) == {}
    assert environ["KERAS_HOME"] == "/elsewhere/keras" and environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_airflow_false_leaves_airflow_home_alone():
    environ: dict[str, str] = {}
    apply_runtime_environment(environ, airflow=False)
    assert "AIRFLOW_HOME" not in environ and environ["KERAS_HOME"].endswith("var/keras")


def test_outside_a_checkout_the_libraries_keep_their_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime_environment, "REPO_ROOT", tmp_path)  # an installed wheel: no setup.py beside it
    assert repository_checkout() is None
    assert runtime_defaults(None) == {"TF_CPP_MIN_LOG_LEVEL": "2"}
    environ: dict[str, str] = {}
    apply_runtime_environment(environ)
    assert "KERAS_HOME" not in environ
