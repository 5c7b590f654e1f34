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
    _check_identity(dataset)
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


def sop_class_name(uid: str) -> str:
    """A SOP Class UID's registered name ("VL Photographic Image Storage"), or the UID itself."""
    from pydicom.uid import UID

    name = UID(uid).name
    return name if name and name != uid else uid


def is_image_sop_class(uid: str) -> bool:
    """An image storage class (VL Photographic, Secondary Capture, CT...), not an SR, a SEG, a PDF or a waveform."""
    return "Image Storage" in sop_class_name(uid)


def _check_identity(dataset: Any) -> None:
    """A DICOM image whose results can be linked back: an image SOP class, a Study and a SOP Instance UID.

    The messages name DICOM keywords and SOP class names, never attribute values of the patient.
    """
    sop_class = str(dataset.get("SOPClassUID", "") or getattr(getattr(dataset, "file_meta", None),
                                                              "MediaStorageSOPClassUID", "") or "")
    if sop_class and not is_image_sop_class(sop_class):
        raise ImageRejected(
            RejectReason.UNSUPPORTED_DICOM, f"DICOM SOP class {sop_class_name(sop_class)!r} is not an image"
        )
    missing = [keyword for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID") if not dataset.get(keyword)]
    if missing:
        raise ImageRejected(
            RejectReason.INCOMPLETE_DICOM,
            f"DICOM has no {', '.join(missing)}, so a result could not be linked back to its study",
        )


def _declared_size(dataset: Any) -> tuple[int, int]:
    try:
        return int(dataset.Columns), int(dataset.Rows)
    except Exception as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"DICOM Rows/Columns missing or invalid ({type(exc).__name__})") from None


def _first_frame_rgb8(dataset: Any) -> np.ndarray:
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

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
        # pydicom 3 already returns YBR_FULL, YBR_FULL_422 (JPEG) and friends as RGB (``as_rgb``).
        if photometric == "PALETTE COLOR":
            array = apply_color_lut(array, dataset)
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


def encode_dicom(
    pixels: np.ndarray, sop_instance_uid: str, attributes: dict[str, Any] | None = None, *,
    jpeg_quality: int | None = None,
) -> bytes:
    """8-bit RGB pixels -> a VL Photographic Image DICOM file (for demos, tests and benchmarks).

    Uncompressed RGB, or with ``jpeg_quality`` a JPEG Baseline (YBR_FULL_422) one, as dermoscopes
    write. The Patient, Study, Series and Equipment modules are filled with empty or generated
    values; ``attributes`` sets or overrides top-level keywords, e.g. ``{"PatientName": "Doe^Jane"}``
    or ``{"StudyInstanceUID": study_uid}``.
    """
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid

    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _VL_PHOTOGRAPHIC_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = JPEGBaseline8Bit if jpeg_quality else ExplicitVRLittleEndian
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    for keyword, value in _vl_photographic_modules(sop_instance_uid, generate_uid).items():
        setattr(dataset, keyword, value)
    dataset.Rows, dataset.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    dataset.SamplesPerPixel = 3
    dataset.PlanarConfiguration = 0
    dataset.BitsAllocated = dataset.BitsStored = 8
    dataset.HighBit = 7
    dataset.PixelRepresentation = 0
    if jpeg_quality:
        _set_jpeg_pixels(dataset, pixels, jpeg_quality)
    else:
        dataset.PhotometricInterpretation = "RGB"
        dataset.LossyImageCompression = "00"
        dataset.PixelData = pixels.tobytes()
    for keyword, value in (attributes or {}).items():
        setattr(dataset, keyword, value)
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _vl_photographic_modules(sop_instance_uid: str, generate_uid) -> dict[str, Any]:
    return {
        "SpecificCharacterSet": "ISO_IR 192",
        "SOPClassUID": _VL_PHOTOGRAPHIC_IMAGE_STORAGE, "SOPInstanceUID": sop_instance_uid,
        "PatientName": "", "PatientID": "", "PatientBirthDate": "", "PatientSex": "",
        "StudyInstanceUID": generate_uid(), "StudyDate": "", "StudyTime": "", "ReferringPhysicianName": "",
        "StudyID": "", "AccessionNumber": "",
        "SeriesInstanceUID": generate_uid(), "Modality": "XC", "SeriesNumber": 1,
        "Manufacturer": "", "InstanceNumber": 1, "PatientOrientation": "",
        "ImageType": ["ORIGINAL", "PRIMARY"], "AcquisitionContextSequence": [],
        "ContentDate": "", "ContentTime": "",
    }


def _set_jpeg_pixels(dataset: Any, pixels: np.ndarray, quality: int) -> None:
    from PIL import Image
    from pydicom.encaps import encapsulate

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=int(quality), subsampling=1)  # 4:2:2
    dataset.PhotometricInterpretation = "YBR_FULL_422"
    dataset.LossyImageCompression = "01"
    dataset.LossyImageCompressionMethod = "ISO_10918_1"
    dataset.PixelData = encapsulate([buffer.getvalue()])
    dataset["PixelData"].VR = "OB"
