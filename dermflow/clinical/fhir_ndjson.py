"""A run's FHIR output as Bulk Data NDJSON: one file per resource type, written by shards, merged at the end.

    shard = FhirShardWriter(staging_dir(root, run_id))   # in a Beam worker, one per bundle
    shard.add(lines); shard.close()                      # <staging>/fhir-<Type>-<uuid>.ndjson, owner-only
    summary = publish_fhir(staging, fhir_run_dir(root, run_id), [device_line])

``publish_fhir`` writes ``<root>/fhir/<run_id>/{Device,Observation,DiagnosticReport}.ndjson`` and a
``manifest.json`` shaped like a FHIR Bulk Data export's (``transactionTime``, ``output``: type, url,
count), keeping the first line of each resource id (a retried bundle cannot duplicate a resource).
The lines carry patient identification: they stay inside ``score.clinical_results_dir``, they are
never Beam elements.
"""
from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from dermflow.clinical.clinical_files import write_private

RESOURCE_ORDER = ("Device", "DiagnosticReport", "Observation")


class FhirShardWriter:
    def __init__(self, staging: str | Path):
        self._staging = Path(staging)
        self._lines: dict[str, list[str]] = defaultdict(list)

    def add(self, lines: list[str]) -> None:
        for line in lines:
            self._lines[json.loads(line)["resourceType"]].append(line)

    def close(self) -> list[Path]:
        """Writes what was added (one file per type) and forgets it."""
        written = []
        token = uuid.uuid4().hex
        for resource_type, lines in sorted(self._lines.items()):
            path = self._staging / f"fhir-{resource_type}-{token}.ndjson"
            write_private(path, ("\n".join(lines) + "\n").encode("utf-8"))
            written.append(path)
        self._lines.clear()
        return written


def publish_fhir(staging: str | Path, run_dir: str | Path, extra_lines: list[str], now: datetime | None = None) -> dict:
    """Merges the shards of ``staging`` (and ``extra_lines``) into ``run_dir``; returns {type: count}."""
    staging, run_dir = Path(staging), Path(run_dir)
    by_type: dict[str, dict[str, str]] = defaultdict(dict)
    for line in extra_lines:
        record = json.loads(line)
        by_type[record["resourceType"]].setdefault(record["id"], line)
    shards = sorted(staging.glob("fhir-*.ndjson")) if staging.is_dir() else []
    for shard in shards:
        for line in shard.read_text(encoding="utf-8").splitlines():
            if line:
                record = json.loads(line)
                by_type[record["resourceType"]].setdefault(record["id"], line)
    counts = {}
    outputs = []
    for resource_type in sorted(by_type, key=lambda t: (RESOURCE_ORDER.index(t) if t in RESOURCE_ORDER else 99, t)):
        lines = list(by_type[resource_type].values())
        path = run_dir / f"{resource_type}.ndjson"
        write_private(path, ("\n".join(lines) + "\n").encode("utf-8"))
        counts[resource_type] = len(lines)
        outputs.append({"type": resource_type, "url": path.name, "count": len(lines)})
    manifest = {"transactionTime": (now or datetime.now(timezone.utc)).isoformat(), "requiresAccessToken": False,
                "output": outputs, "error": []}
    write_private(run_dir / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    for shard in shards:
        shard.unlink()
    return counts
