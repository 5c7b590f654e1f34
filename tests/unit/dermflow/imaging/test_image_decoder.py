import io

import numpy as np
import pytest
from PIL import Image

from dermflow.config import DEFAULT_MAX_IMAGE_PIXELS as MAX_PIXELS
from dermflow.imaging import ImageRejected, RejectReason, decode_image, normalized_jpeg


def _jpeg(width=200, height=120, mode="RGB", progressive=False, exif=None, comment=None) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    kwargs = {"quality": 85, "progressive": progressive}
    if exif is not None:
        kwargs["exif"] = exif
    if comment is not None:
        kwargs["comment"] = comment
    image.save(buffer, format="JPEG", **kwargs)
    return buffer.getvalue()


def _exif(orientation: int, note: str = "") -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    if note:
        exif[0x010E] = note  # ImageDescription
    return exif


@pytest.mark.parametrize("progressive", [False, True])
def test_a_fitting_jpeg_keeps_its_coded_data_without_metadata(progressive):
    source = _jpeg(progressive=progressive, exif=_exif(1, "Patient: Jane Doe"), comment="MRN 12345")

    result = normalized_jpeg(source, max_side=512, max_pixels=MAX_PIXELS, quality=90)

    assert not result.reencoded
    assert (result.width, result.height) == (200, 120)
    assert b"Jane Doe" in source and b"MRN 12345" in source
    assert b"Jane Doe" not in result.data and b"MRN 12345" not in result.data
    assert not Image.open(io.BytesIO(result.data)).getexif()
    np.testing.assert_array_equal(decode_image(result.data, max_pixels=MAX_PIXELS).pixels, decode_image(source, max_pixels=MAX_PIXELS).pixels)


def test_a_grey_jpeg_is_kept_too():
    assert not normalized_jpeg(_jpeg(mode="L"), max_side=512, max_pixels=MAX_PIXELS, quality=90).reencoded


def test_a_larger_jpeg_is_shrunk_to_the_max_side_and_reports_its_source_size():
    result = normalized_jpeg(_jpeg(2000, 1000), max_side=300, quality=80, max_pixels=MAX_PIXELS)

    assert result.reencoded
    assert (result.width, result.height) == (2000, 1000)
    assert Image.open(io.BytesIO(result.data)).size == (300, 150)


def test_a_rotated_jpeg_is_reencoded_upright():
    result = normalized_jpeg(_jpeg(200, 120, exif=_exif(6)), max_side=512, max_pixels=MAX_PIXELS, quality=90)

    assert result.reencoded
    assert Image.open(io.BytesIO(result.data)).size == (120, 200)


@pytest.mark.parametrize("mode, fmt", [("CMYK", "JPEG"), ("RGB", "PNG")])
def test_other_encodings_become_an_rgb_jpeg(mode, fmt):
    buffer = io.BytesIO()
    Image.new(mode, (64, 48)).save(buffer, format=fmt)

    result = normalized_jpeg(buffer.getvalue(), max_side=512, max_pixels=MAX_PIXELS, quality=90)

    assert result.reencoded
    reread = Image.open(io.BytesIO(result.data))
    assert (reread.format, reread.mode, reread.size) == ("JPEG", "RGB", (64, 48))


@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_a_truncated_jpeg_that_fits_is_still_rejected(keep):
    source = _jpeg()

    with pytest.raises(ImageRejected) as rejected:
        normalized_jpeg(source[: int(len(source) * keep)], max_side=512, max_pixels=MAX_PIXELS, quality=90)

    assert rejected.value.reason == RejectReason.TRUNCATED


def test_decode_with_a_shrink_hint_decodes_a_jpeg_at_a_smaller_dct_scale():
    source = _jpeg(2000, 1000)

    decoded = decode_image(source, shrink_to=300, max_pixels=MAX_PIXELS)

    assert (decoded.width, decoded.height) == (2000, 1000)
    assert decoded.pixels.shape == (250, 500, 3)  # 1/4 scale: the smallest that still covers 300 px
    assert decode_image(source, max_pixels=MAX_PIXELS).pixels.shape == (1000, 2000, 3)


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side, refused", [(9_700, False), (10_100, True), (20_000, True)])
def test_the_pixel_limit_is_dermflows_alone_with_its_own_message(side, refused):
    """94 MP passes Pillow's 89.5 MP warning; 102 MP and 400 MP get dermflow's message, never Pillow's."""
    data = _png_header(side, side)
    with pytest.raises(ImageRejected) as raised:
        decode_image(data, max_pixels=MAX_PIXELS)
    if refused:
        assert raised.value.reason == RejectReason.TOO_MANY_PIXELS
        assert f"{side * side:,} pixels, over the limit of {MAX_PIXELS:,}" in raised.value.message
    else:  # read past the size check: it fails later only because the header has no pixel data
        assert raised.value.reason != RejectReason.TOO_MANY_PIXELS
    assert "decompression bomb" not in raised.value.message.lower()


def test_a_rejection_message_never_repeats_the_uploads_bytes():
    with pytest.raises(ImageRejected) as raised:
        decode_image(b"SECRET-BYTES patient list", max_pixels=MAX_PIXELS)
    assert raised.value.reason == RejectReason.NOT_AN_IMAGE
    assert "SECRET" not in raised.value.message and "patient" not in raised.value.message
