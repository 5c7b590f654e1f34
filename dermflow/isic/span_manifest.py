"""What an ingest recorded about its spans, and what the next ingest does with each of them.

    manifest = read_manifest(previous_examples_uri)                 # <examples>/spans.json, or None
    plans, removed = plan_spans(spans, digests, manifest, fingerprint, settings, files_present)
    plans[0].action in ("reuse", "ingest"); plans[0].reason          # "its files changed since ..."

``spans.json`` lies beside the ``Split-*`` folders of every Examples artifact IsicExampleGen
writes (no TFX reader looks there), and its summary is the artifact's ``dermflow_spans`` custom
property in ML Metadata. Per span: its name and kind, the digest of its content, the fingerprint
of the ingest settings it was encoded with, its TFRecord files per split, and each example's
(image_id, lesion_id, split, sha256): the split memory of the next run and the sha256s that
make an image already ingested a duplicate.

The **fingerprint** covers what changes the examples: the image path settings (``data.max_side``,
``data.jpeg_quality``, ``data.max_image_pixels``, the image path version), the class filter
(``labels``: code -> label) and the age buckets. A span is reused when its content digest and the
fingerprint are those recorded and its files are still there; otherwise it is ingested again,
with the reason.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dermflow.isic.span_layout import SpanFolder

MANIFEST_FILE = "spans.json"
SPANS_PROPERTY = "dermflow_spans"  # the ML Metadata custom property of IsicExampleGen's (and ClassFilter's) Examples
MANIFEST_FORMAT = 1
REUSE, INGEST = "reuse", "ingest"


def ingest_settings(cfg: Any) -> dict[str, Any]:
    """The settings the fingerprint covers (see the module docstring)."""
    from dermflow.imaging.model_input import IMAGE_PATH_VERSION

    return {
        "image_path": {"version": IMAGE_PATH_VERSION, "max_side": cfg.data.max_side,
                       "jpeg_quality": cfg.data.jpeg_quality, "max_image_pixels": cfg.data.max_image_pixels},
        "class_filter": cfg.labels.code_to_label(),
        "age_buckets": list(cfg.eval.age_buckets),
    }


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def changed_settings(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``["image_path.max_side 512 -> 256", "class_filter"]``: what differs, for the reason line."""
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and key != "class_filter":
            changes += [f"{key}.{k} {before.get(k)} -> {after.get(k)}" for k in sorted(set(before) | set(after))
                        if before.get(k) != after.get(k)]
        else:
            changes.append(f"{key} {before} -> {after}")
    return changes


@dataclass
class SpanRecord:
    """One span as an ingest left it."""

    name: str
    kind: str
    content: str  # content_digest of its folder
    fingerprint: str
    ingested_at: str  # UTC, when its examples were encoded
    files: dict[str, list[str]] = field(default_factory=dict)  # split -> file names under Split-<split>/
    images: list[list[str]] = field(default_factory=list)  # [image_id, lesion_id, split, sha256]
    report: dict[str, Any] = field(default_factory=dict)  # its part of the ingest report
    marker: dict[str, Any] = field(default_factory=dict)  # its span.json

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "content": self.content[:16], "fingerprint": self.fingerprint,
                "ingested_at": self.ingested_at, "examples": len(self.images)}


@dataclass
class IngestManifest:
    fingerprint: str
    settings: dict[str, Any]
    split_settings: dict[str, Any]
    spans: list[SpanRecord]

    def span(self, name: str) -> SpanRecord | None:
        return next((record for record in self.spans if record.name == name), None)

    def to_json(self) -> str:
        return json.dumps({"format": MANIFEST_FORMAT, "fingerprint": self.fingerprint, "settings": self.settings,
                           "split_settings": self.split_settings,
                           "spans": [record.__dict__ for record in self.spans]}, separators=(",", ":"))

    def summary_json(self) -> str:
        """The short form stored in ML Metadata: one entry per span, no per-image rows."""
        return json.dumps([record.summary() for record in self.spans], separators=(",", ":"))


def read_manifest(examples_uri: str | Path | None) -> IngestManifest | None:
    """The manifest of an earlier Examples artifact; None when there is none or it is unreadable."""
    if not examples_uri:
        return None
    path = Path(examples_uri) / MANIFEST_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if document.get("format") != MANIFEST_FORMAT:
        return None
    return IngestManifest(document["fingerprint"], document["settings"], document.get("split_settings", {}),
                          [SpanRecord(**record) for record in document["spans"]])


def write_manifest(manifest: IngestManifest, examples_uri: str | Path) -> Path:
    path = Path(examples_uri) / MANIFEST_FILE
    path.write_text(manifest.to_json(), encoding="utf-8")
    return path


@dataclass(frozen=True)
class SpanPlan:
    """What this ingest does with one span of the data root."""

    span: SpanFolder
    content: str
    action: str  # REUSE or INGEST
    reason: str
    previous: SpanRecord | None = None


def plan_spans(spans: list[SpanFolder], digests: dict[str, str], previous: IngestManifest | None, current_fingerprint: str,
               current_settings: dict[str, Any], files_present) -> tuple[list[SpanPlan], list[SpanRecord]]:
    """One plan per span, in ingest order (the previously ingested ones in their order, then the new ones by
    name), and the previously ingested spans no longer in the data root. ``files_present(record)`` says whether
    a record's TFRecord files are still in the previous artifact."""
    recorded = {record.name: record for record in previous.spans} if previous else {}
    order = {record.name: index for index, record in enumerate(previous.spans)} if previous else {}
    ordered = sorted(spans, key=lambda s: (s.name != "base", order.get(s.name, len(order)), s.name))
    plans = []
    for span in ordered:
        record, content = recorded.get(span.name), digests[span.name]
        if record is None:
            plans.append(SpanPlan(span, content, INGEST, "new span"))
        elif record.fingerprint != current_fingerprint:
            changes = changed_settings(previous.settings, current_settings) if previous else []
            plans.append(SpanPlan(span, content, INGEST, "the ingest settings changed since it was ingested ("
                                  + ("; ".join(changes) or f"fingerprint {record.fingerprint}") + ")", record))
        elif record.content != content:
            plans.append(SpanPlan(span, content, INGEST, f"its files changed since it was ingested ({record.ingested_at})",
                                  record))
        elif not files_present(record):
            plans.append(SpanPlan(span, content, INGEST, "its examples in the previous ingest's output are gone", record))
        else:
            plans.append(SpanPlan(span, content, REUSE, f"unchanged since {record.ingested_at}", record))
    names = {span.name for span in spans}
    removed = [record for record in (previous.spans if previous else []) if record.name not in names]
    return plans, removed
