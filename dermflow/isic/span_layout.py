"""Spans: the batches of labelled images a data root holds, each in the ISIC layout.

    spans, problems = list_spans(Path("/data/isic"), cfg.data)   # base first, then spans/<name>/ by name
    spans[0].name == "base"; spans[1].kind in ("archive", "reviewed"); content_digest(spans[1], cfg.data)

The layout (docs/ingest.md#spans)::

    <data root>/ISIC_2019_Training_Input/ + the two CSVs      span "base": the archive, as it always was
    <data root>/spans/<name>/ISIC_2019_Training_Input/ + CSVs  a further span (a batch that landed)
    <data root>/spans/<name>/span.json                          optional; {"kind": "reviewed", ...} for the
                                                                reviewed cases the verdict export writes

A span's name is its folder's: letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit.
Folders starting with ``.`` are skipped silently (the export's staging and previous copies); any
other unusable name is a problem line, never a silent drop. The data root alone (no ``spans/``)
is one span, ``base``, ingested exactly as before spans existed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_SPAN = "base"
SPANS_DIR = "spans"
SPAN_MARKER = "span.json"
ARCHIVE, REVIEWED = "archive", "reviewed"
SPAN_KINDS = (ARCHIVE, REVIEWED)
SPAN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class SpanFolder:
    """One span of a data root: its name, its folder, its kind and what its ``span.json`` says."""

    name: str
    root: Path
    kind: str = ARCHIVE
    marker: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def images_dir(self, data: Any) -> Path:
        return self.root / data.images_dir

    def ground_truth_csv(self, data: Any) -> Path:
        return self.root / data.ground_truth_csv

    def metadata_csv(self, data: Any) -> Path:
        return self.root / data.metadata_csv


def read_marker(folder: Path) -> tuple[dict[str, Any], str | None]:
    """``span.json`` of a span folder ({} when absent) and a problem line when it cannot be used."""
    path = folder / SPAN_MARKER
    if not path.is_file():
        return {}, None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"{path}: not readable JSON ({exc})"
    if not isinstance(marker, dict) or marker.get("kind", ARCHIVE) not in SPAN_KINDS:
        return {}, f"{path}: 'kind' must be one of {list(SPAN_KINDS)}"
    return marker, None


def list_spans(data_root: Path, data: Any) -> tuple[list[SpanFolder], list[str]]:
    """The base span and every usable ``spans/<name>/`` folder (by name), and one line per unusable folder."""
    data_root = Path(data_root)
    spans = [SpanFolder(BASE_SPAN, data_root)]
    problems: list[str] = []
    spans_dir = data_root / SPANS_DIR
    if not spans_dir.is_dir():
        return spans, problems
    for entry in sorted(spans_dir.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            problems.append(f"{entry}: not a folder, so not a span")
        elif not SPAN_NAME.fullmatch(entry.name) or entry.name == BASE_SPAN:
            problems.append(f"{entry}: span names are letters, digits, '.', '_' and '-' (not {BASE_SPAN!r}); "
                            "this folder is not ingested")
        else:
            marker, problem = read_marker(entry)
            if problem:
                problems.append(f"{problem}; span {entry.name} is not ingested")
                continue
            spans.append(SpanFolder(entry.name, entry, marker.get("kind", ARCHIVE), marker))
    return spans, problems


def content_digest(span: SpanFolder, data: Any) -> str:
    """What the span holds, cheaply: the CSVs' bytes and each image file's name, size and modification time.

    Equal digests mean the span can be reused as ingested; a copy that keeps times (``cp -p``,
    ``rsync -a``) keeps the digest, an edited, added or removed file changes it.
    """
    digest = hashlib.sha256()
    for csv_path in (span.ground_truth_csv(data), span.metadata_csv(data)):
        digest.update(csv_path.name.encode() + b"\0")
        try:
            digest.update(hashlib.sha256(csv_path.read_bytes()).digest())
        except OSError:
            digest.update(b"missing")
    images = span.images_dir(data)
    try:
        entries = sorted(os.scandir(images), key=lambda e: e.name)
    except OSError:
        entries = []
    for entry in entries:
        try:
            stat = entry.stat()
        except OSError:
            continue
        digest.update(f"{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
