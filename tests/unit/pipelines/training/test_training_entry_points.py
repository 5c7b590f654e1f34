"""The training code named by strings, which lint-imports cannot follow, resolves to what it names."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]


def _resolve(dotted: str):
    module, _, name = dotted.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_the_trainer_run_fn_string_names_the_run_fn():
    from dermflow.pipelines.training import trainer_module
    from dermflow.pipelines.training.training_pipeline import RUN_FN

    assert _resolve(RUN_FN) is trainer_module.run_fn


def test_the_pipeline_factory_strings_name_create_pipeline():
    from dermflow.pipelines.training.training_pipeline import create_pipeline
    from dermflow.tfx_runtime.pipeline_graph import DEFAULT_PIPELINE_FACTORY

    graph = json.loads((REPO / "dags" / "dermflow_retrain.graph.json").read_text(encoding="utf-8"))
    assert _resolve(DEFAULT_PIPELINE_FACTORY) is create_pipeline
    assert _resolve(graph["pipeline_factory"]) is create_pipeline
