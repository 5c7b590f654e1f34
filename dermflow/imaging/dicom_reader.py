"""DICOM images via pydicom, de-identified at the door.

Only two things leave this module: the pixels (8-bit RGB) and a sha256 of the SOP Instance
UID. Patient name, ID, birth date and every other attribute stay inside ``decode_dicom``: they
are never returned, logged, or put into an error message (messages name the exception type
only, because pydicom messages can quote element values).

    decoded = decode_dicom(data, max_pixels=cfg.data.max_image_pixels)   # DecodedImage(format="dicom")
"""
from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np

from dermflow.imaging.image_formats import DICOM, DecodedImage
from dermflow.imaging.rejection import ImageRejected, RejectReason

_VL_PHOTOGRAPHIC_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.77.1.4"


def hash_uid(uid: str) -> str:
    """The only trace of a DICOM instance kept downstream: sha256 hex of its SOP Instance UID."""
    return hashlib.sha256(uid.strip().encode("ascii", "replace")).hexdigest()


def decode_dicom(data: bytes, max_pixels: int) -> DecodedImage:
    """DICOM bytes -> 8-bit RGB pixels (first frame) and the hashed SOP Instance UID; raises ImageRejected."""
    import pydicom

    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"DICOM cannot be parsed ({type(exc).__name__})") from None
    if "PixelData" not in dataset and "FloatPixelData" not in dataset and "DoubleFloatPixelData" not in dataset:
        raise ImageRejected(RejectReason.NO_PIXEL_DATA, "DICOM file holds no image (no Pixel Data element)")
    width, height = _declared_size(dataset)
    if width * height > max_pixels:
        raise ImageRejected(RejectReason.TOO_MANY_PIXELS, f"DICOM declares {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,}"
        )
    pixels = _first_frame_rgb8(dataset)
    uid = str(dataset.get("SOPInstanceUID", "") or "")
    return DecodedImage(
        pixels=pixels, format=DICOM, width=width, height=height, dicom_uid_hash=hash_uid(uid) if uid else None
    )


def _declared_size(dataset: Any) -> tuple[int, int]:
    try:
        return int(dataset.Columns), int(dataset.Rows)
    except Exception as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"DICOM Rows/Columns missing or invalid ({type(exc).__name__})") from None


def _first_frame_rgb8(dataset: Any) -> np.ndarray:
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, convert_color_space

    try:
        array = dataset.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        syntax = str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "unknown"))
        raise ImageRejected(RejectReason.UNSUPPORTED_DICOM, f"no decoder for transfer syntax {syntax} ({type(exc).__name__})"
        ) from None
    except Exception as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"DICOM pixel data cannot be decoded ({type(exc).__name__})") from None
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    samples = int(dataset.get("SamplesPerPixel", 1))
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        array = array[0]
    try:
        if photometric == "PALETTE COLOR":
            array = apply_color_lut(array, dataset)
        elif samples == 3 and photometric.startswith("YBR"):
            array = convert_color_space(array, photometric, "RGB")
        elif samples == 1:
            array = apply_voi_lut(apply_modality_lut(array, dataset), dataset)
    except Exception as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"DICOM pixel transform failed ({type(exc).__name__})") from None
    grey_inverted = photometric == "MONOCHROME1"
    return _to_rgb8(np.asarray(array), int(dataset.get("BitsStored", 8)), grey_inverted)


def _to_rgb8(array: np.ndarray, bits_stored: int, inverted: bool) -> np.ndarray:
    if array.dtype == np.uint8:
        scaled = array
    elif array.dtype.kind in "ui" and 8 < bits_stored <= 16 and array.min() >= 0:
        scaled = np.clip(np.rint(array.astype(np.float32) * (255.0 / (2**bits_stored - 1))), 0, 255).astype(np.uint8)
    else:
        lo, hi = float(array.min()), float(array.max())
        span = hi - lo if hi > lo else 1.0
        scaled = np.clip(np.rint((array.astype(np.float32) - lo) * (255.0 / span)), 0, 255).astype(np.uint8)
    if inverted:
        scaled = 255 - scaled
    if scaled.ndim == 2:
        scaled = np.repeat(scaled[:, :, None], 3, axis=2)
    if scaled.ndim != 3 or scaled.shape[2] != 3:
        raise ImageRejected(RejectReason.UNSUPPORTED_DICOM, f"DICOM pixel layout {scaled.shape} is not greyscale or RGB")
    return np.ascontiguousarray(scaled)


def encode_dicom(pixels: np.ndarray, sop_instance_uid: str, attributes: dict[str, Any] | None = None) -> bytes:
    """8-bit RGB pixels -> an uncompressed VL Photographic DICOM file (for demos and tests).

    ``attributes`` sets extra top-level keywords, e.g. ``{"PatientName": "Doe^Jane"}``.
    """
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _VL_PHOTOGRAPHIC_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = _VL_PHOTOGRAPHIC_IMAGE_STORAGE
    dataset.SOPInstanceUID = sop_instance_uid
    dataset.StudyInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    dataset.Modality = "XC"
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    dataset.Rows, dataset.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    dataset.SamplesPerPixel = 3
    dataset.PhotometricInterpretation = "RGB"
    dataset.PlanarConfiguration = 0
    dataset.BitsAllocated = dataset.BitsStored = 8
    dataset.HighBit = 7
    dataset.PixelRepresentation = 0
    dataset.PixelData = pixels.tobytes()
    for keyword, value in (attributes or {}).items():
        setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
