"""Reading images safely: content sniffing, bounded decoding, normalisation to 8-bit RGB.

Formats are recognised by their content, never by the file name: a PNG named ``.jpg`` is
decoded as the PNG it is. Every failure is an :class:`ImageRejected` with a
:class:`RejectReason` and a human message, so callers can list the file instead of crashing.

    decoded = decode_image(data, max_pixels=cfg.data.max_image_pixels)   # DecodedImage or ImageRejected
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import math
import re
import warnings
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dermflow.imaging.dicom_reader import decode_dicom
from dermflow.imaging.image_formats import DICOM, JPEG, DecodedImage, sniff_format
from dermflow.imaging.rejection import ImageRejected, RejectReason


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_image(data: bytes, max_pixels: int, shrink_to: int | None = None) -> DecodedImage:
    """Decodes JPEG, PNG or DICOM bytes into 8-bit RGB; raises ImageRejected when it can't.

    ``shrink_to``: a hint that the caller will shrink the image so its longer side is at most this; a
    JPEG is then decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still covers it.
    """
    if not data:
        raise ImageRejected(RejectReason.EMPTY_FILE, "the file is empty (0 bytes)")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected(RejectReason.NOT_AN_IMAGE, "not a JPEG, PNG or DICOM file (its first bytes match none of them)")
    if fmt == DICOM:
        return decode_dicom(data, max_pixels=max_pixels)
    with pillow_errors(fmt):
        image = open_bounded(data, max_pixels)
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


def open_bounded(data: bytes, max_pixels: int) -> Image.Image:
    """Pillow's lazy open (header only), refusing images that declare more than ``max_pixels``.

    ``max_pixels`` is the one limit: Pillow's own (``Image.MAX_IMAGE_PIXELS``, 89.5 MP, with its
    "decompression bomb" message) is kept from firing first. Above twice that, Pillow refuses to open
    at all; the message is still dermflow's.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(declared.group(1)):,}" if declared else f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,}"
        raise ImageRejected(RejectReason.TOO_MANY_PIXELS, f"declares {pixels} pixels, over the limit of {max_pixels:,}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(RejectReason.TOO_MANY_PIXELS, f"declares {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,}"
        )
    return image


@contextlib.contextmanager
def pillow_errors(fmt: str) -> Iterator[None]:
    """Turns whatever Pillow raises on bad data into an ImageRejected with a reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(RejectReason.TOO_MANY_PIXELS, str(exc)) from None
    except UnidentifiedImageError as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"{fmt} header cannot be read: {exc}") from None
    except OSError as exc:
        message = str(exc)
        reason = RejectReason.TRUNCATED if "truncated" in message.lower() or "premature end" in message.lower() else RejectReason.CORRUPT
        raise ImageRejected(reason, f"{fmt} data cannot be decoded: {message}") from None
    except Exception as exc:  # Pillow raises a zoo of types (SyntaxError, ValueError, struct.error) on bad data
        raise ImageRejected(RejectReason.CORRUPT, f"{fmt} data cannot be decoded: {type(exc).__name__}: {exc}") from None


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


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
