"""A multipart upload read into memory within the size limit: no temporary file, nothing on disk.

    data, filename = await read_upload(request, field="file", max_bytes=cfg.serve.max_upload_bytes)

Starlette spools form files over 1 MB to a temporary file; this reads the request body itself,
refusing it with 413 as soon as it passes ``max_bytes`` (plus a little for the multipart framing),
and parses it with python-multipart's streaming parser into memory.
"""
from __future__ import annotations

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

# Room for the multipart boundaries and part headers around the file itself.
FRAMING_ALLOWANCE = 16 * 1024


class UploadTooLarge(HTTPException):
    def __init__(self, max_bytes: int):
        super().__init__(413, detail={"reason": "too_large", "message": f"uploads are limited to {max_bytes} bytes"})


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, or 413 once it passes ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise UploadTooLarge(max_bytes - FRAMING_ALLOWANCE)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLarge(max_bytes - FRAMING_ALLOWANCE)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_multipart_file(body: bytes, content_type: str, field: str) -> tuple[bytes, str | None] | None:
    """The bytes and filename of the first part named ``field``; None when there is none."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise HTTPException(400, detail={"reason": "not_multipart", "message": "send the file as multipart/form-data"})
    parts: list[tuple[dict[bytes, bytes], bytearray]] = []
    header = {"field": b"", "value": b""}
    current: dict = {}

    def on_part_begin() -> None:
        current["headers"], current["data"] = {}, bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        current["headers"][header["field"].lower()] = header["value"]
        header["field"], header["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current["data"] += data[start:end]

    def on_part_end() -> None:
        parts.append((current["headers"], current["data"]))

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own error types for malformed bodies
        raise HTTPException(400, detail={"reason": "bad_multipart", "message": f"the multipart body is malformed: {exc}"}) from None
    for headers, data in parts:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        if disposition.get(b"name") == field.encode():
            filename = disposition.get(b"filename")
            return bytes(data), filename.decode("utf-8", "replace") if filename is not None else None
    return None


async def read_upload(request: Request, field: str, max_bytes: int) -> tuple[bytes, str | None]:
    """The uploaded file's bytes and name; 413 over ``max_bytes``, 400 without a ``field`` part."""
    body = await read_body(request, max_bytes + FRAMING_ALLOWANCE)
    found = parse_multipart_file(body, request.headers.get("content-type", ""), field)
    if found is None:
        raise HTTPException(400, detail={"reason": "no_file", "message": f"the form has no {field!r} file"})
    data, filename = found
    if len(data) > max_bytes:
        raise UploadTooLarge(max_bytes)
    return data, filename
