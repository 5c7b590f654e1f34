"""Files under the configured --source-root folders, and nothing else: no traversal, no symlink escape.

    roots = SourceRoots(["var/archive/ISIC_2019_Training_Input", "/data/inputs"])
    file = roots.find("archive/nested/ISIC_0000001.jpg")   # a Path, or None; raises UnsafePath

A relative path from a Parquet row (or a URL) is refused outright (``UnsafePath``, answered 400)
when it is absolute, holds a ``..`` or empty component, a backslash or a NUL. A path that passes is
joined to each root in turn and resolved with every symlink followed; it is only used when the
resolved file is still inside that root's resolved folder.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Iterable


class UnsafePath(ValueError):
    """A path that tries to leave its root."""


def check_relative(relative: str) -> PurePosixPath:
    if not relative or "\x00" in relative or "\\" in relative or relative.startswith("/"):
        raise UnsafePath(f"not a relative path: {relative!r}")
    path = PurePosixPath(relative)
    if path.is_absolute() or any(part in ("..", ".", "") for part in relative.split("/")):
        raise UnsafePath(f"not a plain relative path: {relative!r}")
    return path


class SourceRoots:
    def __init__(self, roots: Iterable[str | Path]):
        self.roots = [Path(root).resolve() for root in roots]

    def find(self, relative: str) -> Path | None:
        """The file ``relative`` names under the first root that holds it, else None."""
        path = check_relative(relative)
        for root in self.roots:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None
