"""The multipart parser that keeps uploads in memory."""
from __future__ import annotations

import pytest
from fastapi import HTTPException

from dermflow.serving.upload_limits import parse_multipart_file


def _body(parts: list[tuple[str, str | None, bytes]], boundary: str = "XyZ") -> bytes:
    chunks = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


def test_the_named_file_part_is_returned_whole():
    data = bytes(range(256)) * 1000 + b"\r\n--Xy"  # a partial boundary inside the data
    body = _body([("other", None, b"1"), ("file", "a.jpg", data)])
    assert parse_multipart_file(body, "multipart/form-data; boundary=XyZ", "file") == (data, "a.jpg")


def test_a_form_without_the_field_or_not_multipart():
    assert parse_multipart_file(_body([("other", None, b"1")]), "multipart/form-data; boundary=XyZ", "file") is None
    with pytest.raises(HTTPException) as raised:
        parse_multipart_file(b"abc", "application/json", "file")
    assert raised.value.status_code == 400
