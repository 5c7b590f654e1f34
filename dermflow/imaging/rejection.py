"""Why an input was turned away: one enum of reasons and one record type for every stage.

Ingest (CSV rows and archive files), batch scoring and the web API all report a turned-away
input as a :class:`Rejection` whose ``reason`` is a :class:`RejectReason`. The enum's values are
the stable strings that land in the ingest report, the scoring errors table and API responses.

    raise ImageRejected(RejectReason.TRUNCATED, "JPEG data ends early")
    Rejection(RejectReason.MISSING_IMAGE, "the CSV row has no image file", image_id="ISIC_0000001")
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class RejectReason(StrEnum):
    # the bytes of a file
    EMPTY_FILE = "empty_file"
    NOT_AN_IMAGE = "not_an_image"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    TOO_MANY_PIXELS = "too_many_pixels"
    UNREADABLE = "unreadable"
    NO_PIXEL_DATA = "no_pixel_data"
    UNSUPPORTED_DICOM = "unsupported_dicom"
    INCOMPLETE_DICOM = "incomplete_dicom"  # no Study / SOP Instance UID: a result could not go back to its study
    INTERNAL_ERROR = "internal_error"
    # an ISIC archive's CSV rows and files
    DUPLICATE_ID = "duplicate_id"
    INVALID_LABEL = "invalid_label"
    NOT_IN_CSV = "not_in_csv"
    MISSING_IMAGE = "missing_image"
    DUPLICATE_FILE = "duplicate_file"


@dataclass(frozen=True)
class Rejection:
    """One turned-away input: ``file`` (a path, relative where the caller says so) and/or ``image_id``."""

    reason: RejectReason
    message: str
    file: str | None = None
    image_id: str | None = None

    def to_dict(self) -> dict:
        record = asdict(self)
        record["reason"] = str(self.reason)
        return record


class ImageRejected(Exception):
    """Raised where a file cannot become an image; ``reason`` is a :class:`RejectReason`."""

    def __init__(self, reason: RejectReason, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = RejectReason(reason)
        self.message = message

    def rejection(self, file: str | None = None, image_id: str | None = None) -> Rejection:
        return Rejection(self.reason, self.message, file=file, image_id=image_id)
