"""Generates the reference tables in docs/ from the code, so that they cannot drift from it.

    python .ci/docs_tables.py --write    # make docs-tables: rewrite every generated block
    python .ci/docs_tables.py --check    # exit 1 naming each block that differs (tests/unit/test_docs_tables.py)

A block is the text between ``<!-- generated: NAME (make docs-tables) -->`` and ``<!-- end: NAME -->``
in a docs/*.md file; NAME is a key of :data:`TABLES`. Sources: the scoring Parquet schemas
(``dermflow.schemas.scores_schema``, ``dermflow.schemas.clinical_exports_schema``, ``dermflow.schemas.monitoring_schema``), ``RejectReason`` and its ``REASON_DETAILS``
(``dermflow.imaging.rejection``), and the typed config (``dermflow.config``).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Callable

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) \(make docs-tables\) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)",
                   re.S)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _columns(schema_name: str, module: str = "scores_schema") -> str:
    import importlib

    from dermflow.schemas import scores_schema

    schema = getattr(importlib.import_module(f"dermflow.schemas.{module}"), schema_name)
    described = scores_schema.descriptions(schema)
    rows = []
    for field in schema:
        kind = str(field.type) + (", nullable" if field.nullable else "")
        rows.append([f"`{field.name}`", kind, described[field.name]])
    rows += [[f"`{name}`", "partition (string)", described[name]] for name in scores_schema.partition_columns(schema)]
    return _table(["column", "type", "meaning"], rows)


def _reject_reasons() -> str:
    from dermflow.imaging.rejection import REASON_DETAILS, RejectReason

    where = {"ingest": "ingest report", "scoring": "scoring errors table", "web": "web API (422)"}
    rows = [[f"`{reason}`", REASON_DETAILS[reason].meaning, ", ".join(where[s] for s in REASON_DETAILS[reason].stages)]
            for reason in RejectReason]
    return _table(["reason", "what", "reported in"], rows)


def _default(field: Any) -> str:
    if field.default_factory is not None:
        return f"`{field.default_factory()}`"
    value = field.default
    return "null" if value is None else f"`{value}`"


def _config_keys() -> str:
    from dermflow.config import DermflowConfig

    parts, top = [], []
    for section, field in DermflowConfig.model_fields.items():
        fields = getattr(field.annotation, "model_fields", None)
        if fields is None:
            top.append([f"`{section}`", _default(field), field.description or ""])
            continue
        doc = (field.annotation.__doc__ or "").strip().split("\n\n")[0]
        rows = [[f"`{section}.{key}`", _default(sub), sub.description or ""] for key, sub in fields.items()]
        parts.append(f"### `{section}`\n\n" + (_cell(doc) + "\n\n" if doc else "") + _table(["key", "default", "meaning"], rows))
    return _table(["key", "default", "meaning"], top) + "\n" + "\n".join(parts)


TABLES: dict[str, Callable[[], str]] = {
    "predictions-columns": lambda: _columns("PREDICTIONS_SCHEMA"),
    "errors-columns": lambda: _columns("ERRORS_SCHEMA"),
    "clinical-exports-columns": lambda: _columns("CLINICAL_EXPORTS_SCHEMA", "clinical_exports_schema"),
    "monitoring-runs-columns": lambda: _columns("MONITORING_RUNS_SCHEMA", "monitoring_schema"),
    "monitoring-features-columns": lambda: _columns("MONITORING_FEATURES_SCHEMA", "monitoring_schema"),
    "reject-reasons": _reject_reasons,
    "config-keys": _config_keys,
}


def regenerate(text: str) -> str:
    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in TABLES:
            raise SystemExit(f"unknown generated block {name!r}; known: {sorted(TABLES)}")
        return match.group(1) + TABLES[name]() + match.group(4)

    return BLOCK.sub(fill, text)


def stale_blocks() -> list[str]:
    """``docs/FILE.md: NAME`` for every block whose text differs from what the code generates."""
    stale = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        fresh = regenerate(text)
        for old, new in zip(BLOCK.finditer(text), BLOCK.finditer(fresh)):
            if old.group("body") != new.group("body"):
                stale.append(f"docs/{path.name}: {old.group('name')}")
    return stale


def generated_names() -> set[str]:
    return {m.group("name") for path in DOCS.glob("*.md") for m in BLOCK.finditer(path.read_text(encoding="utf-8"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="Rewrite the blocks (default: --check).")
    parser.add_argument("--check", action="store_true", help="Exit 1 when a block differs from the code.")
    args = parser.parse_args(argv)
    if args.write:
        for path in sorted(DOCS.glob("*.md")):
            text = path.read_text(encoding="utf-8")
            fresh = regenerate(text)
            if fresh != text:
                path.write_text(fresh, encoding="utf-8")
                print(f"docs-tables: rewrote {path.relative_to(DOCS.parent)}")
        return 0
    stale = stale_blocks()
    for line in stale:
        print(f"docs-tables: {line} differs from the code; run `make docs-tables`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
