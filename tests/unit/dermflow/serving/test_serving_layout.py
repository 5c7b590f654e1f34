"""serving/ split by concern: no function over 80 lines, no module over 600, no import cycle inside it."""
from __future__ import annotations

import ast
from pathlib import Path

import dermflow.serving

SERVING = Path(dermflow.serving.__file__).parent


def test_no_function_over_80_lines_and_no_module_over_600():
    too_long = []
    for module in sorted(SERVING.glob("*.py")):
        text = module.read_text(encoding="utf-8")
        if len(text.splitlines()) > 600:
            too_long.append(f"{module.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
                too_long.append(f"{module.name}:{node.lineno} {node.name}")
    assert not too_long


def test_no_import_cycle_inside_serving():
    import grimp

    graph = grimp.build_graph("dermflow")
    modules = sorted(m for m in graph.modules if m.startswith("dermflow.serving."))
    cycles = [
        (a, b) for a in modules for b in modules
        if a < b and graph.find_shortest_chain(a, b) and graph.find_shortest_chain(b, a)
    ]
    assert not cycles
    assert not graph.find_shortest_chain("dermflow.serving.app_factory", "dermflow.serving.server_runner")
