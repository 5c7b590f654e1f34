"""The node graph of a TFX pipeline, as a small JSON file the DAG files can read cheaply.

DAG files must not import TFX (about 9 s and 1 GB), so the retraining DAG reads the graph
from ``dags/dermflow_retrain.graph.json``. That file is generated from the live pipeline:

    python -m dermflow.tfx_runtime.pipeline_graph --write dags/dermflow_retrain.graph.json

and a test compares it with the live compiled pipeline, so it cannot drift silently.
Only the standard library is imported at module level; TFX is imported by ``compile_graph``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

DEFAULT_PIPELINE_FACTORY = "dermflow.pipelines.training.training_pipeline:create_pipeline"


@dataclass(frozen=True)
class PipelineNode:
    node_id: str
    upstream: tuple[str, ...]


@dataclass(frozen=True)
class PipelineGraph:
    """TFX nodes in topological order, each with its upstream node ids."""

    pipeline_factory: str
    nodes: tuple[PipelineNode, ...]

    @property
    def node_ids(self) -> list[str]:
        return [node.node_id for node in self.nodes]

    def edges(self) -> dict[str, set[str]]:
        """node id -> set of upstream node ids."""
        return {node.node_id: set(node.upstream) for node in self.nodes}

    def to_json(self) -> str:
        """One line per node, so a change to the pipeline reads as a one-line diff."""
        lines = [json.dumps({"id": node.node_id, "upstream": list(node.upstream)}) for node in self.nodes]
        return (
            "{\n"
            f'  "pipeline_factory": {json.dumps(self.pipeline_factory)},\n'
            '  "nodes": [\n    ' + ",\n    ".join(lines) + "\n  ]\n}\n"
        )

    @classmethod
    def from_json(cls, text: str) -> "PipelineGraph":
        data = json.loads(text)
        nodes = tuple(PipelineNode(item["id"], tuple(item["upstream"])) for item in data["nodes"])
        graph = cls(pipeline_factory=data["pipeline_factory"], nodes=nodes)
        graph.check_topological()
        return graph

    def check_topological(self) -> None:
        seen: set[str] = set()
        for node in self.nodes:
            missing = [up for up in node.upstream if up not in seen]
            if missing:
                raise ValueError(f"pipeline graph: {node.node_id} comes before its upstream nodes {missing}")
            seen.add(node.node_id)


def read_graph(path: str | Path) -> PipelineGraph:
    return PipelineGraph.from_json(Path(path).read_text(encoding="utf-8"))


def import_factory(spec: str) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"pipeline factory {spec!r} is not of the form package.module:function")
    return getattr(importlib.import_module(module_name), attr)


def compile_pipeline(pipeline: Any) -> Any:
    """A ``tfx.dsl.Pipeline`` -> its IR (``pipeline_pb2.Pipeline``), nodes in topological order."""
    from tfx.dsl.compiler import compiler

    return compiler.Compiler().compile(pipeline)


def graph_from_ir(pipeline_ir: Any, pipeline_factory: str) -> PipelineGraph:
    nodes = []
    for node in pipeline_ir.nodes:
        pipeline_node = node.pipeline_node
        nodes.append(PipelineNode(pipeline_node.node_info.id, tuple(pipeline_node.upstream_nodes)))
    return PipelineGraph(pipeline_factory=pipeline_factory, nodes=tuple(nodes))


def compile_graph(pipeline_factory: str = DEFAULT_PIPELINE_FACTORY, cfg: Any = None) -> PipelineGraph:
    """Builds the pipeline with ``pipeline_factory(cfg)`` (default config when None) and reads its graph."""
    if cfg is None:
        from dermflow.config import DermflowConfig

        cfg = DermflowConfig()
    pipeline = import_factory(pipeline_factory)(cfg)
    return graph_from_ir(compile_pipeline(pipeline), pipeline_factory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the TFX pipeline graph JSON the DAG files read.")
    parser.add_argument("--factory", default=DEFAULT_PIPELINE_FACTORY, help="package.module:function(cfg) -> Pipeline")
    parser.add_argument("--config", type=Path, help="YAML config the pipeline is built with (default: defaults).")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", type=Path, metavar="JSON", help="Write the graph to this file.")
    action.add_argument("--check", type=Path, metavar="JSON", help="Exit 1 when this file differs from the live graph.")
    args = parser.parse_args(argv)

    from dermflow.config import load_config

    graph = compile_graph(args.factory, load_config(args.config))
    if args.write:
        args.write.write_text(graph.to_json(), encoding="utf-8")
        print(f"wrote {args.write}: {' -> '.join(graph.node_ids)}")
        return 0
    current = read_graph(args.check)
    if current != graph:
        print(f"{args.check} is out of date; regenerate it with --write", file=sys.stderr)
        return 1
    print(f"{args.check} matches the live pipeline graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
