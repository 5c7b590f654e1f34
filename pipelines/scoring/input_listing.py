"""The files a scoring run is given: folders (recursive) and globs, expanded up front.

Listing goes through ``apache_beam.io.filesystems.FileSystems``, so ``gs://``, ``s3://`` and
local paths behave alike. Each file keeps a path relative to the input root it was found
under (for a glob: its directory part before the first wildcard); that relative path is what
lands in the outputs, never the absolute one.

A ``dicomweb://`` input (``dermflow.clinical.dicomweb_source``) lists a PACS's instances by QIDO-RS; each
is an ``InputFile`` whose path is its ``dicomweb://`` address and whose relative path holds hashed UIDs
only. :func:`read_input_bytes` reads any listed path: a file, or an instance by WADO-RS.

Local folders are walked here (following symlinked folders once): an entry the walk meets but
cannot read as a file (a symlink loop, a dangling symlink, an unreadable folder) is listed with
its ``problem``, and scoring turns it into an error row (``unreadable``), so scored + skipped +
rejected counts everything the walk met.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from dermflow.clinical.dicomweb_source import is_dicomweb, redact

_GLOB_MAGIC = re.compile(r"[*?\[]")


class InputError(ValueError):
    """An --input that matches no file (a typo must not silently score nothing)."""


@dataclass(frozen=True, order=True)
class InputFile:
    path: str  # as the filesystem names it (absolute, or a URL)
    relative_path: str  # forward slashes, relative to its input root
    problem: str = ""  # why the walk could not read it as a file; "" for a file


def list_input_files(inputs: list[str], exclude_under: str | None = None, dicomweb_conn_id: str | None = None) -> list[InputFile]:
    """Expands every input; sorted by path, each file once (the first input that reaches it names it).

    Files under ``exclude_under`` (the run's own output folder) are left out. ``dicomweb_conn_id``
    names the Airflow connection of ``dicomweb://`` inputs (else the environment's credentials).
    """
    if not inputs:
        raise InputError("no --input given")
    excluded = _as_dir(_absolute(exclude_under)) if exclude_under else None
    seen: dict[str, InputFile] = {}
    for spec in inputs:
        found = _list_dicomweb(spec, dicomweb_conn_id) if is_dicomweb(spec) else _expand(spec)
        if not found:
            raise InputError(f"--input {redact(spec)!r} matches no file")
        for item in found:
            if excluded and item.path.startswith(excluded):
                continue
            seen.setdefault(item.path, item)
    return sorted(seen.values())


def _list_dicomweb(spec: str, conn_id: str | None) -> list[InputFile]:
    from dermflow.clinical.dicomweb_credentials import dicomweb_auth
    from dermflow.clinical.dicomweb_source import DicomwebInputError, list_instances, parse_dicomweb_input

    try:
        instances = list_instances(parse_dicomweb_input(spec), dicomweb_auth(conn_id))
    except DicomwebInputError as exc:
        raise InputError(f"--input {redact(spec)!r}: {exc}") from None
    except Exception as exc:  # the PACS did not answer the QIDO-RS search
        raise InputError(f"--input {redact(spec)!r}: the PACS did not list it ({type(exc).__name__})") from None
    return [InputFile(ref.url, ref.hashed_path) for ref in instances]


def read_input_bytes(path: str, dicomweb_conn_id: str | None = None) -> bytes:
    """A listed input's bytes: a file through Beam's filesystems, a ``dicomweb://`` instance by WADO-RS (OSError)."""
    if is_dicomweb(path):
        from dermflow.clinical.dicomweb_credentials import dicomweb_auth
        from dermflow.clinical.dicomweb_source import read_instance

        return read_instance(path, dicomweb_auth(dicomweb_conn_id))
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        return handle.read()


def _expand(spec: str) -> list[InputFile]:
    spec = _absolute(spec)
    if _GLOB_MAGIC.search(spec):
        root = _glob_root(spec)
        return [InputFile(path, _relative(path, root)) for path in _match(spec)]
    folder = _as_dir(spec)
    if "://" not in folder and os.path.isdir(folder):
        return _walk_local(folder)
    inside = _match(folder + "**")
    if inside:
        return [InputFile(path, _relative(path, folder)) for path in inside]
    parent, _ = FileSystems.split(spec.rstrip("/"))
    return [InputFile(path, _relative(path, _as_dir(parent))) for path in _match(spec)]


def _walk_local(folder: str) -> list[InputFile]:
    found: list[InputFile] = []
    pending = [(folder, frozenset([os.path.realpath(folder)]))]
    while pending:
        directory, ancestors = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            found.append(_problem(directory.rstrip("/"), folder, f"cannot list the folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError as exc:  # ELOOP: a symlink to itself
                found.append(_problem(entry.path, folder, f"cannot read the entry: {exc.strerror or exc}"))
                continue
            if is_dir:
                real = os.path.realpath(entry.path)
                if real in ancestors:
                    found.append(_problem(entry.path, folder, f"symlink loop: it points back to {real}"))
                else:
                    pending.append((entry.path + "/", ancestors | {real}))
            elif is_file:
                found.append(InputFile(entry.path, _relative(entry.path, folder)))
            elif entry.is_symlink():
                found.append(_problem(entry.path, folder, f"dangling symlink to {os.readlink(entry.path)}"))
            else:
                found.append(_problem(entry.path, folder, "not a regular file (a socket, FIFO or device)"))
    return found


def _problem(path: str, root: str, problem: str) -> InputFile:
    return InputFile(path, _relative(path, root), problem)


def _absolute(path: str) -> str:
    """Local paths made absolute (URLs like gs://bucket/x are left alone)."""
    path = str(path)
    if "://" in path:
        return path
    trailing = "/" if path.endswith("/") else ""
    return os.path.abspath(path) + trailing


def _match(pattern: str) -> list[str]:
    result = FileSystems.match([pattern])[0]
    return [meta.path for meta in result.metadata_list]


def _glob_root(pattern: str) -> str:
    prefix = pattern[: _GLOB_MAGIC.search(pattern).start()]
    return prefix[: prefix.rfind("/") + 1] if "/" in prefix else ""


def _as_dir(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _relative(path: str, root: str) -> str:
    relative = path[len(root):] if root and path.startswith(root) else path
    return relative.replace("\\", "/").lstrip("/")
