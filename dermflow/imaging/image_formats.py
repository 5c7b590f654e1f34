"""What an image file is, told by its content, and the decoded form every reader returns.

    fmt = sniff_format(data)   # JPEG, PNG, DICOM or None
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JPEG, PNG, DICOM = "jpeg", "png", "dicom"


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # uint8, H x W x 3, RGB, EXIF orientation applied
    format: str  # JPEG, PNG or DICOM
    width: int  # of the stored image, before any orientation change
    height: int
    dicom_uid_hash: str | None = None  # sha256 of the SOP Instance UID, DICOM only


def sniff_format(data: bytes) -> str | None:
    """The format the bytes really are, from their magic numbers; None when not a supported image."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if len(data) >= 132 and data[128:132] == b"DICM":
        return DICOM
    return None
