import io

import numpy as np
import pydicom
import pytest

from dermflow.config import DEFAULT_MAX_IMAGE_PIXELS as MAX_PIXELS
from dermflow.imaging import dicom_reader
from dermflow.imaging import DICOM, ImageRejected, RejectReason, decode_image

PATIENT_NAME = "Testpatient^Zelda^Qx"
PATIENT_ID = "PID-7731-SECRET"
UID = "1.2.826.0.1.3680043.8.498.12345678901234567890"


def _pixels(height=20, width=30):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _phi_dicom(pixels):
    return dicom_reader.encode_dicom(
        pixels, UID, {"PatientName": PATIENT_NAME, "PatientID": PATIENT_ID, "PatientBirthDate": "19410203"}
    )


def test_rgb_dicom_decodes_to_its_pixels_and_hashed_uid():
    pixels = _pixels()
    decoded = decode_image(_phi_dicom(pixels), max_pixels=MAX_PIXELS)
    assert decoded.format == DICOM
    assert (decoded.width, decoded.height) == (30, 20)
    np.testing.assert_array_equal(decoded.pixels, pixels)
    assert decoded.dicom_uid_hash == dicom_reader.hash_uid(UID)
    assert len(decoded.dicom_uid_hash) == 64 and UID not in decoded.dicom_uid_hash


def test_no_phi_in_anything_returned():
    decoded = dicom_reader.decode_dicom(_phi_dicom(_pixels()), max_pixels=MAX_PIXELS)
    text = repr(decoded.__dict__.keys()) + repr([v for k, v in decoded.__dict__.items() if k != "pixels"])
    for secret in (PATIENT_NAME, "Zelda", PATIENT_ID, "19410203", UID):
        assert secret not in text
        assert secret.encode() not in decoded.pixels.tobytes()


def test_greyscale_16bit_is_scaled_to_8bit_rgb():
    dataset = pydicom.dcmread(io.BytesIO(_phi_dicom(_pixels())))
    grey = np.array([[0, 4095], [2048, 1024]], dtype=np.uint16)
    dataset.Rows, dataset.Columns = grey.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    del dataset.PlanarConfiguration
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
    dataset.PixelData = grey.tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    decoded = dicom_reader.decode_dicom(buffer.getvalue(), max_pixels=MAX_PIXELS)
    assert decoded.pixels.shape == (2, 2, 3) and decoded.pixels.dtype == np.uint8
    assert decoded.pixels[0, 0, 0] == 0 and decoded.pixels[0, 1, 0] == 255
    assert 120 <= decoded.pixels[1, 0, 0] <= 135


def test_oversized_dicom_is_rejected_before_decoding():
    with pytest.raises(ImageRejected) as info:
        dicom_reader.decode_dicom(_phi_dicom(_pixels(40, 40)), max_pixels=1000)
    assert info.value.reason == RejectReason.TOO_MANY_PIXELS


def test_broken_dicom_is_rejected_without_leaking_values():
    data = _phi_dicom(_pixels())
    with pytest.raises(ImageRejected) as info:
        dicom_reader.decode_dicom(data[: len(data) // 2], max_pixels=MAX_PIXELS)
    assert info.value.reason in ("corrupt", "truncated")
    assert PATIENT_NAME not in str(info.value)


def test_dicom_without_pixels_is_rejected():
    dataset = pydicom.dcmread(io.BytesIO(_phi_dicom(_pixels())))
    del dataset.PixelData
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    with pytest.raises(ImageRejected) as info:
        dicom_reader.decode_dicom(buffer.getvalue(), max_pixels=MAX_PIXELS)
    assert info.value.reason == RejectReason.NO_PIXEL_DATA


def _gradient(height=48, width=64):
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx * 3, yy * 4, 255 - xx * 3], axis=-1).astype(np.uint8)


def test_a_ybr_jpeg_dicom_decodes_to_rgb_once():
    pixels = _gradient()
    data = dicom_reader.encode_dicom(pixels, UID, {"PatientName": PATIENT_NAME}, jpeg_quality=95)
    dataset = pydicom.dcmread(io.BytesIO(data))
    assert dataset.PhotometricInterpretation == "YBR_FULL_422" and dataset.file_meta.TransferSyntaxUID.is_compressed
    decoded = dicom_reader.decode_dicom(data, max_pixels=MAX_PIXELS)
    assert np.abs(decoded.pixels.astype(int) - pixels).mean() < 3  # JPEG loss only; a second YBR->RGB would be ~100


def test_the_vl_photographic_image_carries_patient_and_study_modules():
    dataset = pydicom.dcmread(io.BytesIO(_phi_dicom(_pixels())))
    assert dataset.SOPClassUID == "1.2.840.10008.5.1.4.1.1.77.1.4" and dataset.Modality == "XC"
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "StudyDate", "AccessionNumber", "PatientSex"):
        assert keyword in dataset


def test_a_non_image_sop_class_is_unsupported_and_says_which():
    dataset = pydicom.dcmread(io.BytesIO(_phi_dicom(_pixels())))
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    with pytest.raises(ImageRejected) as raised:
        dicom_reader.decode_dicom(buffer.getvalue(), max_pixels=MAX_PIXELS)
    assert raised.value.reason == RejectReason.UNSUPPORTED_DICOM
    assert raised.value.message == "DICOM SOP class 'Comprehensive SR Storage' is not an image"


def test_a_dicom_without_a_study_uid_is_incomplete_without_naming_any_value():
    dataset = pydicom.dcmread(io.BytesIO(_phi_dicom(_pixels())))
    del dataset.StudyInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    with pytest.raises(ImageRejected) as raised:
        dicom_reader.decode_dicom(buffer.getvalue(), max_pixels=MAX_PIXELS)
    assert raised.value.reason == RejectReason.INCOMPLETE_DICOM and "StudyInstanceUID" in raised.value.message
    assert UID not in raised.value.message and PATIENT_NAME not in raised.value.message
