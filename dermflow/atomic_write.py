"""Files that appear complete or not at all: write under a temporary name, then rename.

    with atomic_path(target) as temporary:     # same folder and same name ending as target
        model.save_weights(temporary)
    write_text_atomically(path, text); write_bytes_atomically(path, data); write_json_atomically(path, obj)

The temporary file lives beside the target (a rename within one filesystem is atomic), keeps the
target's name as its ending (Keras insists on ``.weights.h5``), and is removed if writing fails.
Paths are local; Beam filesystem URLs go through ``dermflow.pipelines.scoring.staged_output``.
"""
from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path; renames it over ``path`` when the block succeeds, removes it when not."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomically(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def write_text_atomically(path: str | Path, text: str) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))


def write_json_atomically(path: str | Path, value: Any, **dumps: Any) -> None:
    write_text_atomically(path, json.dumps(value, **dumps) + "\n")
