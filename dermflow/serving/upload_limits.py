"""Request bodies read into memory within their limits, parsed off the event loop: nothing on disk.

    data, filename = await read_upload(request, field="file", max_bytes=cfg.serve.max_upload_bytes, max_parts=8)
    fields = await read_form(request, max_bytes=64_000, max_fields=16)      # an urlencoded HTML form

Starlette spools form files over 1 MB to a temporary file; this reads the request body itself,
refusing it with 413 as soon as it passes ``max_bytes`` (plus a little for the multipart framing),
then parses it in a worker thread (so a body of many tiny fields cannot stall other requests) with
python-multipart's streaming parser, stopping at the ``max_parts``-th part + 1 with a 400.
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

# Room for the multipart boundaries and part headers around the file itself.
FRAMING_ALLOWANCE = 16 * 1024
MAX_PART_HEADER_BYTES = 4096


class UploadTooLarge(HTTPException):
    def __init__(self, max_bytes: int):
        super().__init__(413, detail={"reason": "too_large", "message": f"uploads are limited to {max_bytes} bytes"})


class _TooManyParts(Exception):
    pass


def _bad_multipart(message: str) -> HTTPException:
    return HTTPException(400, detail={"reason": "bad_multipart", "message": message})


async def read_body(request: Request, max_bytes: int, stated_limit: int | None = None) -> bytes:
    """The request body, or 413 (saying ``stated_limit``, default ``max_bytes``) once it passes ``max_bytes``."""
    stated = max_bytes if stated_limit is None else stated_limit
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise UploadTooLarge(stated)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge(stated)
        chunks.append(chunk)
    return b"".join(chunks)


class _PartCollector:
    """python-multipart callbacks that keep at most ``max_parts`` parts, with bounded headers."""

    def __init__(self, max_parts: int):
        self.max_parts = max_parts
        self.parts: list[tuple[dict[bytes, bytes], bytearray]] = []
        self._field, self._value = b"", b""
        self._headers: dict[bytes, bytes] = {}
        self._data = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
            "on_part_data": self.on_part_data, "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        if len(self.parts) >= self.max_parts:
            raise _TooManyParts()
        self._headers, self._data = {}, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]
        self._check_header()

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        if len(self._field) + len(self._value) > MAX_PART_HEADER_BYTES:
            raise _TooManyParts()

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def on_part_end(self) -> None:
        self.parts.append((self._headers, self._data))


def parse_multipart_file(body: bytes, content_type: str, field: str, max_parts: int = 8) -> tuple[bytes, str | None] | None:
    """The bytes and filename of the first part named ``field``; None when there is none."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise HTTPException(400, detail={"reason": "not_multipart", "message": "send the file as multipart/form-data"})
    collector = _PartCollector(max_parts)
    parser = MultipartParser(boundary, collector.callbacks())
    try:
        parser.write(body)
        parser.finalize()
    except _TooManyParts:
        raise _bad_multipart(f"the form has more than {max_parts} parts, or a part header over "
                             f"{MAX_PART_HEADER_BYTES} bytes") from None
    except Exception as exc:  # python-multipart raises its own error types for malformed bodies
        raise _bad_multipart(f"the multipart body is malformed: {type(exc).__name__}") from None
    for headers, data in collector.parts:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        if disposition.get(b"name") == field.encode():
            filename = disposition.get(b"filename")
            return bytes(data), filename.decode("utf-8", "replace") if filename is not None else None
    return None


async def read_upload(request: Request, field: str, max_bytes: int, max_parts: int = 8) -> tuple[bytes, str | None]:
    """The uploaded file's bytes and name; 413 over ``max_bytes``, 400 without a ``field`` part or over ``max_parts``."""
    body = await read_body(request, max_bytes + FRAMING_ALLOWANCE, max_bytes)
    content_type = request.headers.get("content-type", "")
    found = await run_in_threadpool(parse_multipart_file, body, content_type, field, max_parts)
    del body
    if found is None:
        raise HTTPException(400, detail={"reason": "no_file", "message": f"the form has no {field!r} file"})
    data, filename = found
    if len(data) > max_bytes:
        raise UploadTooLarge(max_bytes)
    return data, filename


def parse_form(body: bytes, max_fields: int) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body -> {name: value} (the first value of each name)."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, detail={"reason": "bad_form", "message": f"not a form of at most {max_fields} UTF-8 fields"}) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


async def read_form(request: Request, max_bytes: int = 64 * 1024, max_fields: int = 32) -> dict[str, str]:
    """An HTML form post (urlencoded), within ``max_bytes`` and ``max_fields``; 400 for anything else."""
    kind, _ = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"application/x-www-form-urlencoded":
        raise HTTPException(400, detail={"reason": "bad_form", "message": "send the form as application/x-www-form-urlencoded"})
    body = await read_body(request, max_bytes)
    return await run_in_threadpool(parse_form, body, max_fields)
