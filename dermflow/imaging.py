"""Reading images safely: content sniffing, bounded decoding, normalisation to 8-bit RGB.

Formats are recognised by their content, never by the file name: a PNG named ``.jpg`` is
decoded as the PNG it is. Every failure is an :class:`ImageRejected` with a short machine
reason and a human message, so callers can list the file instead of crashing.

    decoded = decode_image(data, max_pixels=100_000_000)   # DecodedImage or ImageRejected
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

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


def decode_image(data: bytes, max_pixels: int = 100_000_000) -> DecodedImage:
    """Decodes JPEG, PNG or DICOM bytes into 8-bit RGB; raises ImageRejected when it can't."""
    if not data:
        raise ImageRejected(EMPTY_FILE, "the file is empty (0 bytes)")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected(NOT_AN_IMAGE, f"not a JPEG, PNG or DICOM file (starts with {data[:8]!r})")
    if fmt == DICOM:
        from dermflow.dicom_reader import decode_dicom

        return decode_dicom(data, max_pixels=max_pixels)
    return _decode_raster(data, fmt, max_pixels)


def _decode_raster(data: bytes, fmt: str, max_pixels: int) -> DecodedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > max_pixels:
                raise ImageRejected(
                    TOO_MANY_PIXELS, f"declares {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,}"
                )
            image.load()
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
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block is no reason to lose the pixels
        pass
    return DecodedImage(pixels=to_rgb8(image), format=fmt, width=width, height=height)


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
