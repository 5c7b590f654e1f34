"""One TFX node per call, sharing a pipeline run through ML Metadata; retries never duplicate outputs.

Runs a real pipeline of stock TFX components (stock_tfx_pipeline.py) node by node.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from dermflow.config import load_config

pytestmark = pytest.mark.e2e

RUN_ID = "manual__2025-01-01T00:00:00+00:00"


@pytest.fixture()
def cfg(tmp_path):
    from stock_tfx_pipeline import write_examples

    write_examples(tmp_path / "data")
    return load_config(None, [f"data.data_root={tmp_path / 'data'}", f"paths.work_dir={tmp_path / 'work'}"])


def _store(cfg):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(cfg.paths.resolved_metadata_path())
    return metadata_store.MetadataStore(config)


def test_nodes_share_one_run_and_a_retry_reuses_the_execution(cfg):
    from stock_tfx_pipeline import FACTORY

    from dermflow.tfx_runtime.pipeline_graph import compile_graph
    from dermflow.tfx_runtime.node_runner import run_node

    graph = compile_graph(FACTORY, cfg)
    summaries = {node: run_node(node, RUN_ID, cfg.to_json(), FACTORY) for node in graph.node_ids}
    assert {s["state"] for s in summaries.values()} == {"COMPLETE"}

    retry = run_node("ImportExampleGen", RUN_ID, cfg.to_json(), FACTORY)
    assert retry["reused"] is True
    assert retry["execution_id"] == summaries["ImportExampleGen"]["execution_id"]

    store = _store(cfg)
    [examples] = store.get_artifacts_by_type("Examples")
    statistics_inputs = [
        e.artifact_id for e in store.get_events_by_execution_ids([summaries["StatisticsGen"]["execution_id"]])
        if e.type == e.INPUT
    ]
    assert statistics_inputs == [examples.id]  # lineage: StatisticsGen read ExampleGen's output of this run
    [run_context] = store.get_contexts_by_type("pipeline_run")
    assert run_context.name == "manual__2025-01-01T00_00_00_00_00"


def test_an_attempt_killed_mid_run_leaves_no_partial_outputs(cfg):
    from stock_tfx_pipeline import FACTORY
    from tfx.orchestration import metadata
    from tfx.orchestration.portable import execution_publish_utils, outputs_utils
    from tfx.orchestration.portable.mlmd import context_lib

    from dermflow.tfx_runtime.node_runner import (
        build_pipeline_ir, find_node, metadata_connection_config, run_node,
    )

    pipeline_ir = build_pipeline_ir(cfg, RUN_ID, FACTORY)
    node = find_node(pipeline_ir, "ImportExampleGen")
    with metadata.Metadata(metadata_connection_config(pipeline_ir, cfg.paths)) as mlmd:
        contexts = context_lib.prepare_contexts(mlmd, node.contexts)
        killed = execution_publish_utils.register_execution(mlmd, node.node_info.type, contexts)
    resolver = outputs_utils.OutputsResolver(node, pipeline_ir.pipeline_info, pipeline_ir.runtime_spec)
    [stale_dir] = [a.uri for arts in resolver.generate_output_artifacts(killed.id).values() for a in arts]
    stale_file = Path(stale_dir) / "Split-train" / "data_tfrecord-00007-of-00008.gz"
    stale_file.parent.mkdir(parents=True)
    stale_file.write_bytes(b"half-written")

    summary = run_node("ImportExampleGen", RUN_ID, cfg.to_json(), FACTORY)

    assert summary["state"] == "COMPLETE" and summary["execution_id"] == killed.id
    assert not stale_file.exists()
    assert len(_store(cfg).get_artifacts_by_type("Examples")) == 1


def test_a_failing_node_raises_with_the_component_error(cfg, tmp_path):
    from stock_tfx_pipeline import FACTORY

    from dermflow.tfx_runtime.node_runner import NodeFailedError, run_node

    bad = cfg.model_copy(update={"data": cfg.data.model_copy(update={"data_root": tmp_path / "missing"})})
    with pytest.raises(NodeFailedError, match="TFX node ImportExampleGen failed: .*missing"):
        run_node("ImportExampleGen", RUN_ID, bad.to_json(), FACTORY)
