"""The launcher's side of clinical results: what to export again, and publishing what the job wrote.

    clinical = prepare_clinical_run(cfg, layout, output)       # None when score.dicom_results and fhir_results are off
    pending = export_pending_sha256(layout, clinical.settings) # DICOM images scored earlier whose export is not done
    summary = publish_clinical(layout, clinical, expected)     # clinical_exports Parquet, FHIR NDJSON; counts

An image's export is done when its latest ``clinical_exports`` row for the model version says
``stored`` (with ``score.dicomweb_url``) or ``stored``/``written`` (without). Every other scored DICOM
image of that version (a failed store, or one scored while SRs were off) is exported again by the next
run that is given it, although its prediction exists: its prediction row is read back, not recomputed.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems

from dermflow.clinical.result_export import ExportSettings
from dermflow.pipelines.scoring.scored_index import model_version_dir
from dermflow.pipelines.scoring.staged_output import ERRORS_EXTENSION, OutputLayout

CLINICAL_EXPORTS = "clinical_exports"
EXPORT_PENDING_TABLE = "export_pending"
DONE_WITH_PACS = frozenset({"stored"})
DONE_WITHOUT_PACS = frozenset({"stored", "written"})


@dataclass(frozen=True)
class ClinicalRun:
    settings: ExportSettings
    clinical_dir: Path
    pending_sha256: frozenset[str]


def prepare_clinical_run(cfg, layout: OutputLayout, output) -> ClinicalRun | None:
    from dermflow.clinical.clinical_files import prepare_clinical_dir

    if not cfg.score.clinical_results_on():
        return None
    root = prepare_clinical_dir(cfg.score.clinical_results_dir, output)
    settings = ExportSettings.from_config(cfg.score, str(root), layout.file_tag)
    return ClinicalRun(settings, root, export_pending_sha256(layout, settings))


def exports_partition(layout: OutputLayout) -> str:
    return FileSystems.join(layout.output, CLINICAL_EXPORTS, f"run_id={layout.run_id}")


def export_pending_sha256(layout: OutputLayout, settings: ExportSettings) -> frozenset[str]:
    if not settings.writes_sr:
        return frozenset()
    dicom = _scored_dicom_sha256(layout)
    if not dicom:
        return frozenset()
    done_statuses = DONE_WITH_PACS if settings.dicomweb_url else DONE_WITHOUT_PACS
    return frozenset(dicom - _done_sha256(layout, done_statuses))


def _match(pattern: str) -> list[str]:
    return [m.path for m in FileSystems.match([pattern])[0].metadata_list]


def _scored_dicom_sha256(layout: OutputLayout) -> set[str]:
    import pyarrow.compute as pc

    files = _match(FileSystems.join(model_version_dir(layout.predictions_dir, layout.model_version), "**.parquet"))
    if not files:
        return set()
    table = ds.dataset(files, format="parquet").to_table(columns=["sha256"], filter=pc.field("format") == "dicom")
    return set(table.column("sha256").to_pylist())


def _done_sha256(layout: OutputLayout, done_statuses: frozenset[str]) -> set[str]:
    import pyarrow.compute as pc

    files = _match(FileSystems.join(layout.output, CLINICAL_EXPORTS, "**" + ERRORS_EXTENSION))
    if not files:
        return set()
    table = ds.dataset(files, format="parquet").to_table(
        columns=["sha256", "status", "exported_at"], filter=pc.field("model_version") == layout.model_version,
    )
    latest: dict[str, tuple] = {}
    for sha256, status, at in zip(*(table.column(name).to_pylist() for name in ("sha256", "status", "exported_at"))):
        if sha256 not in latest or at > latest[sha256][1]:
            latest[sha256] = (status, at)
    return {sha256 for sha256, (status, _) in latest.items() if status in done_statuses}


def status_counts(files: list[str]) -> dict[str, int]:
    counts: collections.Counter = collections.Counter()
    for path in files:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            counts.update(_statuses(handle))
    return dict(sorted(counts.items()))


def _statuses(handle) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(handle, columns=["status"]).column("status").to_pylist()


def publish_clinical(layout: OutputLayout, clinical: ClinicalRun, expected_rows: int, model_name: str) -> dict:
    """Publishes the staged clinical_exports rows and merges the FHIR shards; checks one row per export."""
    from dermflow.clinical.clinical_files import fhir_run_dir, staging_dir
    from dermflow.clinical.fhir_ndjson import publish_fhir
    from dermflow.clinical.fhir_writer import device_resource
    from dermflow.pipelines.scoring.staged_output import count_rows, publish, publish_empty_if_none, staged_files
    from dermflow.schemas.clinical_exports_schema import CLINICAL_EXPORTS_SCHEMA

    staged = staged_files(layout, CLINICAL_EXPORTS)
    rows = count_rows(staged)
    if rows != expected_rows:
        raise ClinicalAccountingError(
            f"run {layout.run_id}: {rows} clinical export rows for {expected_rows} DICOM images exported; "
            f"nothing published, staged output left in {layout.staging_dir}"
        )
    summary: dict = {"clinical_exports": status_counts(staged), "clinical_results_dir": str(clinical.clinical_dir)}
    if clinical.settings.writes_sr:
        partition = exports_partition(layout)
        publish_empty_if_none(publish(layout, CLINICAL_EXPORTS, partition, "clinical", ERRORS_EXTENSION), partition,
                              f"clinical-{layout.file_tag}-empty{ERRORS_EXTENSION}", CLINICAL_EXPORTS_SCHEMA)
        summary["clinical_exports_dir"] = FileSystems.join(layout.output, CLINICAL_EXPORTS)
    if clinical.settings.fhir_results:
        import dermflow

        run_dir = fhir_run_dir(clinical.clinical_dir, layout.file_tag)
        device = device_resource(model_name, layout.model_version, dermflow.__version__)
        summary["fhir_resources"] = publish_fhir(staging_dir(clinical.clinical_dir, layout.file_tag), run_dir, [device])
        summary["fhir_dir"] = str(run_dir)
    _remove_clinical_staging(clinical, layout)
    return summary


def _remove_clinical_staging(clinical: ClinicalRun, layout: OutputLayout) -> None:
    import shutil

    from dermflow.clinical.clinical_files import STAGING_DIR, staging_dir

    shutil.rmtree(staging_dir(clinical.clinical_dir, layout.file_tag), ignore_errors=True)
    try:
        (clinical.clinical_dir / STAGING_DIR).rmdir()
    except OSError:  # another run is staging there, or it is gone
        pass


class ClinicalAccountingError(RuntimeError):
    """A DICOM image the run exported has no clinical_exports row (or two): nothing was published."""
