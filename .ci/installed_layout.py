"""Copies the Python sources into ``DEST`` laid out as ``pip install`` lays them out (for .ci/lint-imports).

    python .ci/installed_layout.py REPO DEST

The mapping is read from setup.py's ``_MAPPED`` (folder -> dotted package), not restated here.
"""
from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path


def mapped_folders(setup_py: Path) -> dict[str, str]:
    for node in ast.parse(setup_py.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_MAPPED" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit(f"{setup_py}: no _MAPPED mapping found")


def copy_sources(source: Path, target: Path) -> None:
    for path in source.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def main(repo: str, dest: str) -> None:
    repo_path, dest_path = Path(repo), Path(dest)
    copy_sources(repo_path / "dermflow", dest_path / "dermflow")
    for folder, package in mapped_folders(repo_path / "setup.py").items():
        copy_sources(repo_path / folder, dest_path.joinpath(*package.split(".")))


if __name__ == "__main__":
    main(*sys.argv[1:])
