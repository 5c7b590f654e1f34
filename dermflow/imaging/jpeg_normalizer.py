"""Ingest's normalisation: any supported image file -> one JPEG of bounded size, without metadata.

This is the first half of the one image path (:mod:`dermflow.imaging.model_input` owns the whole).

    normalized = normalized_jpeg(data, cfg.data.max_side, cfg.data.jpeg_quality, cfg.data.max_image_pixels)
"""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from dermflow.imaging.image_decoder import (
    decode_image, encode_jpeg, open_bounded, pillow_errors, resize_max_side,
)
from dermflow.imaging.image_formats import JPEG, sniff_format


@dataclass(frozen=True)
class NormalizedJpeg:
    data: bytes  # JPEG, longer side at most max_side, no EXIF, ICC or comment segments
    width: int  # of the source image as stored
    height: int
    reencoded: bool  # False: the source's own coded data, losslessly stripped of metadata
    format: str  # of the source: JPEG, PNG or DICOM
    dicom_uid_hash: str | None = None  # sha256 of the SOP Instance UID, DICOM only


def normalized_jpeg(data: bytes, max_side: int, quality: int, max_pixels: int) -> NormalizedJpeg:
    """Any supported image -> a JPEG whose longer side is at most ``max_side``; raises ImageRejected.

    A JPEG that already fits, and is 8-bit RGB or grey, Huffman-coded and upright, keeps its coded
    data: it is validated by a 1/8-scale decode (libjpeg still entropy-decodes the whole scan, so
    truncation and corrupt data are caught as in a full decode) and copied without its APP1-APP13,
    APP15 and COM segments. That avoids a second generation of compression loss and about three
    quarters of the CPU time. Everything else is decoded, shrunk and re-encoded at ``quality``.
    """
    if sniff_format(data) == JPEG:
        with pillow_errors(JPEG):
            image = open_bounded(data, max_pixels)
            width, height = image.size
            fits = max(width, height) <= max_side and image.mode in ("RGB", "L") and _exif_orientation(image) in (None, 1)
            stripped = _strip_jpeg_metadata(data) if fits else None
            if stripped is not None:
                image.draft(image.mode, (1, 1))
                image.load()
                return NormalizedJpeg(stripped, width, height, reencoded=False, format=JPEG)
    decoded = decode_image(data, max_pixels=max_pixels, shrink_to=max_side)
    pixels = resize_max_side(decoded.pixels, max_side)
    return NormalizedJpeg(
        encode_jpeg(pixels, quality), decoded.width, decoded.height, reencoded=True, format=decoded.format,
        dicom_uid_hash=decoded.dicom_uid_hash,
    )


# Segments a JPEG keeps when its coded data is copied: everything up to the first scan except
# APP1-APP13 and APP15 (EXIF, XMP, ICC, vendor blocks) and COM. APP0 (JFIF) and APP14 (Adobe: tells
# RGB from YCbCr coding) say how to read the pixels.
_DROPPED_SEGMENTS = frozenset(range(0xE1, 0xEE)) | {0xEF, 0xFE}
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_HUFFMAN_SOF = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended, progressive: what every decoder reads
_SOS = 0xDA


def _strip_jpeg_metadata(data: bytes) -> bytes | None:
    """The JPEG without its metadata segments; None when it is not a plain Huffman-coded JPEG."""
    kept = [data[:2]]
    pos, frame = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == _SOS:
            return b"".join(kept) + data[pos:] if frame in _HUFFMAN_SOF else None
        if marker == 0x01 or 0xD0 <= marker <= 0xD9:  # markers without a length have no place here
            return None
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker in _SOF_MARKERS:
            frame = marker
        if marker not in _DROPPED_SEGMENTS:
            kept.append(data[pos:end])
        pos = end
    return None


def _exif_orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(0x0112)
    except Exception:  # an unreadable EXIF block: let the full decode path deal with it
        return -1
