"""Reads each file once: hash it, skip it if already scored, prepare it as ingest did, or reject it.

Main output: ``(ImageKey, jpeg bytes)``: the file after :func:`dermflow.imaging.model_input.prepare_image`
with the settings recorded in the model, ready for RunInference.
Tagged ``rejected``: a :class:`~dermflow.imaging.rejection.Rejection` (``file`` is the relative path).
Tagged ``skipped``: the relative path of a file this model version has already scored.
Nothing is dropped: every input element leaves by exactly one of the three.
Tagged ``export_pending`` (besides ``skipped``): the ``ImageKey`` of a skipped DICOM image whose clinical
export has not succeeded yet (``dermflow.pipelines.scoring.clinical_outputs``): it is exported again.
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from dermflow.imaging import ImageRejected, Rejection, RejectReason, sha256_hex
from dermflow.imaging.colour_statistics import ColourStatistics, colour_statistics
from dermflow.imaging.model_input import ImagePathSettings, prepare_image
from dermflow.pipelines.scoring.input_listing import InputFile, read_input_bytes

REJECTED = "rejected"
SKIPPED = "skipped"
EXPORT_PENDING = "export_pending"
METRICS_NAMESPACE = "dermflow.scoring"


@dataclass(frozen=True)
class ImageKey:
    """What travels beside the image bytes through RunInference (a KeyedModelHandler key)."""

    path: str  # absolute / URL, for the overlay and gallery writers
    relative_path: str
    sha256: str
    format: str
    width: int
    height: int
    dicom_uid_sha256: str | None
    colour: ColourStatistics | None = None  # of the prepared image: the drift check's brightness and colour


class PrepareImageDoFn(beam.DoFn):
    """``InputFile`` -> ``(ImageKey, jpeg bytes)`` | tagged ``rejected`` | tagged ``skipped``."""

    def __init__(self, image_path: ImagePathSettings, scored_sha256: frozenset[str],
                 export_pending_sha256: frozenset[str] = frozenset(), dicomweb_conn_id: str | None = None):
        self._image_path = image_path
        self._scored = scored_sha256
        self._export_pending = export_pending_sha256
        self._dicomweb_conn_id = dicomweb_conn_id
        self._prepared = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "decoded")
        self._rejected = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "rejected")
        self._skipped = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "skipped_already_scored")

    def process(self, item: InputFile):
        if item.problem:  # the listing met it but it is no readable file (a symlink loop, a dangling link)
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(RejectReason.UNREADABLE, item.problem, file=item.relative_path))
            return
        try:
            data = read_input_bytes(item.path, self._dicomweb_conn_id)
        except OSError as exc:
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection(RejectReason.UNREADABLE, f"cannot read the file: {exc}", file=item.relative_path)
            )
            return
        digest = sha256_hex(data)
        if digest in self._scored:
            self._skipped.inc()
            yield beam.pvalue.TaggedOutput(SKIPPED, item.relative_path)
            if digest in self._export_pending:
                yield beam.pvalue.TaggedOutput(EXPORT_PENDING, ImageKey(
                    path=item.path, relative_path=item.relative_path, sha256=digest, format="dicom", width=0, height=0,
                    dicom_uid_sha256=None,
                ))
            return
        try:
            prepared = prepare_image(data, self._image_path)
            colour = colour_statistics(prepared.data)
        except ImageRejected as exc:
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, exc.rejection(file=item.relative_path))
            return
        except Exception as exc:  # a decoder bug on one file must not fail the batch
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(
                RejectReason.INTERNAL_ERROR, f"{type(exc).__name__} while decoding", file=item.relative_path
            ))
            return
        self._prepared.inc()
        key = ImageKey(
            path=item.path, relative_path=item.relative_path, sha256=digest, format=prepared.format,
            width=prepared.width, height=prepared.height, dicom_uid_sha256=prepared.dicom_uid_hash,
            colour=colour,
        )
        yield key, prepared.data

