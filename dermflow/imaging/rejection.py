"""Why an input was turned away: one enum of reasons and one record type for every stage.

Ingest (CSV rows and archive files), batch scoring and the web API all report a turned-away
input as a :class:`Rejection` whose ``reason`` is a :class:`RejectReason`. The enum's values are
the stable strings that land in the ingest report, the scoring errors table and API responses.

    raise ImageRejected(RejectReason.TRUNCATED, "JPEG data ends early")
    Rejection(RejectReason.MISSING_IMAGE, "the CSV row has no image file", image_id="ISIC_0000001")
    REASON_DETAILS[RejectReason.TRUNCATED].meaning, .stages     # what the docs tables are generated from

Adding a reason: a member here and its :data:`REASON_DETAILS` entry; then ``make docs-tables``
regenerates the tables in docs/ and the errors schema's description reads it.
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
    INCOMPLETE_DICOM = "incomplete_dicom"
    INTERNAL_ERROR = "internal_error"
    # an ISIC archive's CSV rows and files
    DUPLICATE_ID = "duplicate_id"
    INVALID_LABEL = "invalid_label"
    NOT_IN_CSV = "not_in_csv"
    MISSING_IMAGE = "missing_image"
    DUPLICATE_FILE = "duplicate_file"


INGEST, SCORING, WEB = "ingest", "scoring", "web"


@dataclass(frozen=True)
class ReasonDetails:
    meaning: str  # for people, one line
    stages: tuple[str, ...]  # where it can be reported: ingest (report), scoring (errors table), web (HTTP 422)


_FILE_STAGES = (INGEST, SCORING, WEB)
REASON_DETAILS: dict[RejectReason, ReasonDetails] = {
    RejectReason.EMPTY_FILE: ReasonDetails("the file has 0 bytes", _FILE_STAGES),
    RejectReason.NOT_AN_IMAGE: ReasonDetails("not JPEG, PNG or DICOM by content (e.g. text named .jpg)", _FILE_STAGES),
    RejectReason.TRUNCATED: ReasonDetails("the image data ends early", _FILE_STAGES),
    RejectReason.CORRUPT: ReasonDetails("the header or data cannot be decoded", _FILE_STAGES),
    RejectReason.TOO_MANY_PIXELS: ReasonDetails("declares more pixels than the configured limit (refused before decoding)",
                                                _FILE_STAGES),
    RejectReason.UNREADABLE: ReasonDetails("the file cannot be read (permissions, I/O, a dangling or looping link)",
                                           _FILE_STAGES),
    RejectReason.NO_PIXEL_DATA: ReasonDetails("a DICOM file without an image (no Pixel Data element)", _FILE_STAGES),
    RejectReason.UNSUPPORTED_DICOM: ReasonDetails(
        "a DICOM file whose transfer syntax or pixel layout has no decoder here, or whose SOP class is no image "
        "(an SR, a segmentation, a PDF)", _FILE_STAGES),
    RejectReason.INCOMPLETE_DICOM: ReasonDetails(
        "a DICOM image without a Study Instance, SOP Instance or SOP Class UID: its result could not go back to its study",
        _FILE_STAGES),
    RejectReason.INTERNAL_ERROR: ReasonDetails("an unexpected error while preparing this one file (the run goes on)",
                                               (SCORING,)),
    RejectReason.DUPLICATE_ID: ReasonDetails("a repeated ground-truth CSV row (the first is kept; names no file)", (INGEST,)),
    RejectReason.INVALID_LABEL: ReasonDetails("the CSV row's one-hot label is not one-hot (names its file when it exists)",
                                              (INGEST,)),
    RejectReason.NOT_IN_CSV: ReasonDetails("a file in the image folder without a ground-truth row", (INGEST,)),
    RejectReason.MISSING_IMAGE: ReasonDetails(
        "a CSV row without a file (names no file; ingest fails past data.max_missing_fraction)", (INGEST,)),
    RejectReason.DUPLICATE_FILE: ReasonDetails("a second file for the same id (e.g. X.jpg and X.png)", (INGEST,)),
}


def reasons_of(stage: str) -> list[RejectReason]:
    """The reasons a stage can report, in the enum's order."""
    return [reason for reason in RejectReason if stage in REASON_DETAILS[reason].stages]


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
