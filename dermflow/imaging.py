"""Reading images safely: content sniffing, bounded decoding, normalisation to 8-bit RGB.

Formats are recognised by their content, never by the file name: a PNG named ``.jpg`` is
decoded as the PNG it is. Every failure is an :class:`ImageRejected` with a short machine
reason and a human message, so callers can list the file instead of crashing.

    decoded = decode_image(data, max_pixels=100_000_000)   # DecodedImage or ImageRejected
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

JPEG, PNG, DICOM = "jpeg", "png", "dicom"

# Reasons, stable strings that land in reports and the errors table.
EMPTY_FILE = "empty_file"
NOT_AN_IMAGE = "not_an_image"
TRUNCATED = "truncated"
CORRUPT = "corrupt"
TOO_MANY_PIXELS = "too_many_pixels"
UNREADABLE = "unreadable"


class ImageRejected(Exception):
    """An input file that cannot become an image; ``reason`` is one of the constants above."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # uint8, H x W x 3, RGB, EXIF orientation applied
    format: str  # JPEG, PNG or DICOM
    width: int  # of the stored image, before any orientation change
    height: int
    dicom_uid_hash: str | None = None  # sha256 of the SOP Instance UID, DICOM only


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff_format(data: bytes) -> str | None:
    """The format the bytes really are, from their magic numbers; None when not a supported image."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if len(data) >= 132 and data[128:132] == b"DICM":
        return DICOM
    return None


def decode_image(data: bytes, max_pixels: int = 100_000_000, shrink_to: int | None = None) -> DecodedImage:
    """Decodes JPEG, PNG or DICOM bytes into 8-bit RGB; raises ImageRejected when it can't.

    ``shrink_to``: a hint that the caller will shrink the image so its longer side is at most this; a
    JPEG is then decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still covers it.
    """
    if not data:
        raise ImageRejected(EMPTY_FILE, "the file is empty (0 bytes)")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected(NOT_AN_IMAGE, f"not a JPEG, PNG or DICOM file (starts with {data[:8]!r})")
    if fmt == DICOM:
        from dermflow.dicom_reader import decode_dicom

        return decode_dicom(data, max_pixels=max_pixels)
    with _pillow_errors(fmt):
        image = _open_bounded(data, max_pixels)
        width, height = image.size  # as stored, before any DCT scaling or orientation change
        if fmt == JPEG and shrink_to is not None and max(width, height) > shrink_to:
            scale = shrink_to / max(width, height)
            image.draft(image.mode, (math.ceil(width * scale), math.ceil(height * scale)))
        image.load()
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block is no reason to lose the pixels
        pass
    return DecodedImage(pixels=to_rgb8(image), format=fmt, width=width, height=height)


@dataclass(frozen=True)
class NormalizedJpeg:
    data: bytes  # JPEG, longer side at most max_side, no EXIF, ICC or comment segments
    width: int  # of the source image as stored
    height: int
    reencoded: bool  # False: the source's own coded data, losslessly stripped of metadata


def normalized_jpeg(data: bytes, max_side: int, quality: int = 90, max_pixels: int = 100_000_000) -> NormalizedJpeg:
    """Any supported image -> a JPEG whose longer side is at most ``max_side``; raises ImageRejected.

    A JPEG that already fits, and is 8-bit RGB or grey, Huffman-coded and upright, keeps its coded
    data: it is validated by a 1/8-scale decode (libjpeg still entropy-decodes the whole scan, so
    truncation and corrupt data are caught as in a full decode) and copied without its APP1-APP13,
    APP15 and COM segments. That avoids a second generation of compression loss and about three
    quarters of the CPU time. Everything else is decoded, shrunk and re-encoded at ``quality``.
    """
    if sniff_format(data) == JPEG:
        with _pillow_errors(JPEG):
            image = _open_bounded(data, max_pixels)
            width, height = image.size
            fits = max(width, height) <= max_side and image.mode in ("RGB", "L") and _exif_orientation(image) in (None, 1)
            stripped = _strip_jpeg_metadata(data) if fits else None
            if stripped is not None:
                image.draft(image.mode, (1, 1))
                image.load()
                return NormalizedJpeg(stripped, width, height, reencoded=False)
    decoded = decode_image(data, max_pixels=max_pixels, shrink_to=max_side)
    pixels = resize_max_side(decoded.pixels, max_side)
    return NormalizedJpeg(encode_jpeg(pixels, quality), decoded.width, decoded.height, reencoded=True)


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


def _open_bounded(data: bytes, max_pixels: int) -> Image.Image:
    """Pillow's lazy open (header only), refusing images that declare more than ``max_pixels``."""
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            TOO_MANY_PIXELS, f"declares {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,}"
        )
    return image


@contextlib.contextmanager
def _pillow_errors(fmt: str) -> Iterator[None]:
    """Turns whatever Pillow raises on bad data into an ImageRejected with a reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(TOO_MANY_PIXELS, str(exc)) from None
    except UnidentifiedImageError as exc:
        raise ImageRejected(CORRUPT, f"{fmt} header cannot be read: {exc}") from None
    except OSError as exc:
        message = str(exc)
        reason = TRUNCATED if "truncated" in message.lower() or "premature end" in message.lower() else CORRUPT
        raise ImageRejected(reason, f"{fmt} data cannot be decoded: {message}") from None
    except Exception as exc:  # Pillow raises a zoo of types (SyntaxError, ValueError, struct.error) on bad data
        raise ImageRejected(CORRUPT, f"{fmt} data cannot be decoded: {type(exc).__name__}: {exc}") from None


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Any Pillow mode (L, LA, P, RGBA, CMYK, I;16, I, F) -> uint8 RGB array."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image)
        if array.dtype == np.uint16 or image.mode.startswith("I;16"):
            array = (array.astype(np.float32) / 257.0)
        else:
            lo, hi = float(array.min()), float(array.max())
            array = (array.astype(np.float32) - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(array, np.float32)
        grey = np.clip(np.rint(array), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def resize_max_side(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Shrinks so the longer side is at most ``max_side``, keeping the aspect; never enlarges."""
    height, width = pixels.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return pixels
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.BILINEAR))


def resize_square(pixels: np.ndarray, side: int) -> np.ndarray:
    """Resizes to ``side`` x ``side`` (the model input), bilinear, as the exported model does."""
    if pixels.shape[0] == side and pixels.shape[1] == side:
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((side, side), Image.BILINEAR))


def encode_jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
