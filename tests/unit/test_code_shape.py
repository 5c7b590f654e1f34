"""The house rules that a reader relies on, checked on the installed ``dermflow`` package (pipelines/,
components/ and schemas/ included, as setup.py maps them): no import cycle (grimp), no function over
80 lines and no module over 600 (ast)."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("dermflow", "pipelines", "components", "schemas")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _sources() -> list[Path]:
    return sorted(p for folder in SOURCE_FOLDERS for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


# Run in the mirror of the installed layout (.ci/installed_layout.py), where pipelines/ is dermflow.pipelines.
_FIND_CYCLES = """
import json, sys
import grimp

graph = grimp.build_graph("dermflow", include_external_packages=False)
index, low, stack, on_stack, found = {}, {}, [], set(), []
sys.setrecursionlimit(10000)

def visit(module):  # Tarjan: every strongly connected component of more than one module is a cycle
    index[module] = low[module] = len(index)
    stack.append(module)
    on_stack.add(module)
    for imported in graph.find_modules_directly_imported_by(module):
        if imported not in index:
            visit(imported)
            low[module] = min(low[module], low[imported])
        elif imported in on_stack:
            low[module] = min(low[module], index[imported])
    if low[module] == index[module]:
        component = []
        while True:
            member = stack.pop()
            on_stack.discard(member)
            component.append(member)
            if member == module:
                break
        if len(component) > 1:
            found.append(sorted(component))

for module in sorted(graph.modules):
    if module not in index:
        visit(module)
print(json.dumps({"modules": sorted(graph.modules), "cycles": found}))
"""


def test_the_installed_package_has_no_import_cycle(tmp_path):
    subprocess.run([sys.executable, str(REPO / ".ci" / "installed_layout.py"), str(REPO), str(tmp_path)], check=True)
    done = subprocess.run([sys.executable, "-c", _FIND_CYCLES], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert "dermflow.pipelines.training.trainer_module" in found["modules"]  # the mapped folders are seen
    assert found["cycles"] == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_function_over_80_lines_and_no_module_over_600(path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: {len(text.splitlines())} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
