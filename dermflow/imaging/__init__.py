"""Images in: safe decoding, DICOM de-identified at read time, and the one path to the model input.

    image_formats    what a file is (by content) and the DecodedImage every reader returns
    image_decoder    bounded JPEG/PNG decoding to 8-bit RGB (EXIF orientation, CMYK, 16-bit, grey)
    dicom_reader     DICOM via pydicom: pixels and a hashed SOP Instance UID, nothing else
    jpeg_normalizer  ingest's normalisation: any file -> one bounded JPEG without metadata
    model_input      the one image path: prepare_image (bytes) + decode_and_resize (in-graph)
    rejection        RejectReason (one enum for every stage), Rejection, ImageRejected

    decoded = decode_image(data, max_pixels=cfg.data.max_image_pixels)
"""
from dermflow.imaging.image_decoder import decode_image, encode_jpeg, encode_png, resize_max_side, sha256_hex
from dermflow.imaging.image_formats import DICOM, JPEG, PNG, DecodedImage, sniff_format
from dermflow.imaging.jpeg_normalizer import NormalizedJpeg, normalized_jpeg
from dermflow.imaging.rejection import ImageRejected, Rejection, RejectReason

__all__ = [
    "DICOM", "JPEG", "PNG", "DecodedImage", "ImageRejected", "NormalizedJpeg", "RejectReason", "Rejection",
    "decode_image", "encode_jpeg", "encode_png", "normalized_jpeg", "resize_max_side", "sha256_hex", "sniff_format",
]
