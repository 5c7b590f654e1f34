"""Where Keras, Airflow and TensorFlow look, the same for every entry point.

    apply_runtime_environment()   # first thing in the CLI, the DAG files, the demo, the tests

For each of ``KERAS_HOME`` and ``AIRFLOW_HOME``: a value already in the environment wins; else a
repository checkout (the folder holding ``setup.py`` and ``dermflow/``) uses its own ``var/keras``
and ``var/airflow``, which is where ``make install`` puts the ImageNet weights; else nothing is set
and the library's own default applies (``~/.keras``, ``~/airflow``). ``TF_CPP_MIN_LOG_LEVEL``
defaults to 2 (TensorFlow's C++ warnings and info lines off). Imports nothing heavy.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TF_CPP_MIN_LOG_LEVEL = "2"
_SET_BY_RULE: dict[str, str] = {}


def repository_checkout() -> Path | None:
    """The checkout this package runs from (an editable install), or None for an installed wheel."""
    if (REPO_ROOT / "setup.py").is_file() and (REPO_ROOT / "pipelines").is_dir():
        return REPO_ROOT
    return None


def runtime_defaults(checkout: Path | None) -> dict[str, str]:
    defaults = {"TF_CPP_MIN_LOG_LEVEL": TF_CPP_MIN_LOG_LEVEL}
    if checkout is not None:
        defaults["KERAS_HOME"] = str(checkout / "var" / "keras")
        defaults["AIRFLOW_HOME"] = str(checkout / "var" / "airflow")
    return defaults


def apply_runtime_environment(environ: dict | None = None, airflow: bool = True) -> dict[str, str]:
    """Fills in the variables the environment does not set; returns the ones it set.

    ``airflow=False`` leaves ``AIRFLOW_HOME`` alone (the tests give Airflow a throwaway one).
    """
    environ = os.environ if environ is None else environ
    applied = {}
    for name, value in runtime_defaults(repository_checkout()).items():
        if name == "AIRFLOW_HOME" and not airflow:
            continue
        if not environ.get(name):
            environ[name] = value
            applied[name] = value
    if environ is os.environ:
        _SET_BY_RULE.update(applied)
    return applied


def explicit_value(name: str) -> str | None:
    """The variable as the user set it (None when unset, or set by this module's rule)."""
    value = os.environ.get(name)
    return None if not value or _SET_BY_RULE.get(name) == value else value
