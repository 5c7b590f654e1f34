"""Splitting a scoring run into N shards, by a stable hash of each file's relative path.

The listing task lists the input files once and writes one manifest per shard (a JSON list of
``{"path", "relative_path"}``) under the run's work dir; each mapped task scores exactly its
manifest. A file's shard depends only on its relative path and N (sha1, never Python's
salted ``hash()``), so a retried task, or a re-run of the same run, gets the same files.
Standard library only: the DAG file imports this module.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from dermflow.atomic_write import write_json_atomically


@dataclass(frozen=True)
class ShardManifest:
    index: int
    count: int
    path: str  # the JSON file

    @property
    def label(self) -> str:
        """Names the shard's staging folder and its published part files."""
        return f"shard-{self.index:05d}-of-{self.count:05d}"


def shard_of(relative_path: str, shards: int) -> int:
    digest = hashlib.sha1(relative_path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def manifests_dir(work_dir: str | Path, run_id: str) -> Path:
    return Path(work_dir) / "scoring" / run_id


def write_manifests(files: Iterable, shards: int, folder: str | Path) -> list[ShardManifest]:
    """Writes ``shard-<k>-of-<n>.json`` for every k < n (empty ones too), each atomically."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    buckets: list[list[dict[str, str]]] = [[] for _ in range(shards)]
    for item in files:
        buckets[shard_of(item.relative_path, shards)].append({"path": item.path, "relative_path": item.relative_path})
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifests = []
    for index, entries in enumerate(buckets):
        manifest = ShardManifest(index, shards, "")
        path = folder / f"{manifest.label}.json"
        write_json_atomically(path, entries, indent=0)
        manifests.append(ShardManifest(index, shards, str(path)))
    return manifests


def read_manifest(path: str | Path) -> list:
    """The shard's files, as ``InputFile``s (what ``run_scoring(files=...)`` takes)."""
    from dermflow.pipelines.scoring.input_listing import InputFile

    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    return [InputFile(entry["path"], entry["relative_path"]) for entry in entries]
