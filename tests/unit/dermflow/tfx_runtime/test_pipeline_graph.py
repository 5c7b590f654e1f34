from __future__ import annotations

import pytest

from dermflow.tfx_runtime.pipeline_graph import PipelineGraph, PipelineNode, import_factory, read_graph

GRAPH = PipelineGraph(
    pipeline_factory="some.module:create_pipeline",
    nodes=(PipelineNode("A", ()), PipelineNode("B", ("A",)), PipelineNode("C", ("A", "B"))),
)


def test_graph_round_trips_through_json(tmp_path):
    path = tmp_path / "graph.json"
    path.write_text(GRAPH.to_json())
    assert read_graph(path) == GRAPH
    assert read_graph(path).edges() == {"A": set(), "B": {"A"}, "C": {"A", "B"}}


def test_a_node_listed_before_its_upstream_is_rejected():
    text = GRAPH.to_json().replace('"id": "A"', '"id": "Z"')
    with pytest.raises(ValueError, match="B comes before its upstream nodes"):
        PipelineGraph.from_json(text)


def test_import_factory_resolves_module_colon_function_and_rejects_other_forms():
    assert import_factory("json:dumps")([1]) == "[1]"
    with pytest.raises(ValueError, match="package.module:function"):
        import_factory("json.dumps")
