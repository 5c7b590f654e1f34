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


def test_a_form_of_many_parts_is_refused_at_the_cap():
    body = _body([(f"f{i}", None, b"x") for i in range(50)] + [("file", "a.jpg", b"data")])
    with pytest.raises(HTTPException) as raised:
        parse_multipart_file(body, "multipart/form-data; boundary=XyZ", "file", max_parts=8)
    assert raised.value.status_code == 400 and raised.value.detail["reason"] == "bad_multipart"
    assert parse_multipart_file(body, "multipart/form-data; boundary=XyZ", "file", max_parts=51) == (b"data", "a.jpg")


def test_an_urlencoded_form_is_capped_in_fields():
    from dermflow.serving.upload_limits import parse_form

    assert parse_form(b"a=1&b=two+words&a=3", max_fields=4) == {"a": "1", "b": "two words"}
    with pytest.raises(HTTPException) as raised:
        parse_form(b"&".join(b"f%d=1" % i for i in range(100)), max_fields=16)
    assert raised.value.status_code == 400 and raised.value.detail["reason"] == "bad_form"
