"""The Beam side of clinical results: each scored image's SR, segmentation, PACS store and FHIR resources.

    (ImageKey, prediction row) -> ClinicalExportDoFn -> clinical_exports rows (schemas/clinical_exports_schema.py)
    export_pending ImageKeys -> BatchElements -> LoadPredictionRowsDoFn -> (ImageKey, prediction row)

``ClinicalExportDoFn`` is a thin adapter over :class:`dermflow.clinical.result_export.ResultExporter`
(one per worker, built in ``setup``). It emits one outcome row per DICOM image when SRs are on, and
writes the FHIR lines of its bundle to owner-only shard files in ``score.clinical_results_dir`` in
``finish_bundle``: lines with patient identification are never Beam elements.
``LoadPredictionRowsDoFn`` reads the stored prediction of images whose earlier export failed.
"""
from __future__ import annotations

import apache_beam as beam

from dermflow.clinical.result_export import ExportSettings, SourceImage, outcome_row
from dermflow.pipelines.scoring.image_preparation_dofn import METRICS_NAMESPACE, ImageKey


class ClinicalExportDoFn(beam.DoFn):
    def __init__(self, settings: ExportSettings, model_version: str):
        self._settings = settings
        self._model_version = model_version
        self._exported = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "clinical_exported")

    def setup(self):
        from dermflow.clinical.result_export import ResultExporter

        self._exporter = ResultExporter(self._settings)

    def start_bundle(self):
        from dermflow.clinical.clinical_files import staging_dir
        from dermflow.clinical.fhir_ndjson import FhirShardWriter

        self._fhir = FhirShardWriter(staging_dir(self._settings.clinical_dir, self._settings.run_id))

    def process(self, element):
        from dermflow.clinical.dicomweb_store import FailureReason, StoreOutcome, StoreStatus
        from dermflow.clinical.model_finding import ModelFinding

        key, row = element
        source = SourceImage(key.path, key.relative_path, key.format, key.dicom_uid_sha256)
        if row is None:  # an export to retry whose prediction row is gone (the dataset was edited by hand)
            outcome = StoreOutcome(StoreStatus.FAILED, FailureReason.NOT_WRITTEN, "its prediction row was not found", 0)
            yield outcome_row(source, key.sha256, self._model_version, outcome)
            return
        export = self._exporter.export(source, ModelFinding.from_prediction_row(row, self._model_version))
        self._exported.inc()
        if export.fhir_lines:
            self._fhir.add(export.fhir_lines)
        if export.row is not None:
            yield export.row

    def finish_bundle(self):
        self._fhir.close()


class LoadPredictionRowsDoFn(beam.DoFn):
    """A batch of ``ImageKey``s -> (key, its latest prediction row of this model version, or None)."""

    def __init__(self, predictions_dir: str, model_version: str):
        self._predictions_dir = predictions_dir
        self._model_version = model_version

    def process(self, keys: list[ImageKey]):
        import dataclasses

        from dermflow.clinical.model_finding import read_prediction_rows

        rows = read_prediction_rows(self._predictions_dir, self._model_version, {key.sha256 for key in keys})
        for key in keys:
            row = rows.get(key.sha256)
            if row is not None:
                key = dataclasses.replace(key, format=row["format"], width=row["width"], height=row["height"],
                                          dicom_uid_sha256=row["dicom_uid_sha256"])
            yield key, row
