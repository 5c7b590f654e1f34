"""The ``score`` and ``beam`` sections: how images are scored and on which Beam runner.

    cfg.score.max_batch_size, cfg.beam.pipeline_args()
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator

from dermflow.config.config_base import DEFAULT_MAX_IMAGE_PIXELS, Section


class ScoreConfig(Section):
    min_batch_size: int = Field(
        32, gt=0, description="RunInference batches hold at least this many images (except a bundle's last); below max: adaptive."
    )
    max_batch_size: int = Field(32, gt=0, description="RunInference batches hold at most this many images.")
    heatmap_png_size: int = Field(64, gt=0, description="Side of the upsampled heatmap PNG stored in Parquet.")
    write_overlays: bool = Field(False, description="Also write a Grad-CAM overlay PNG per image under <output>/overlays/.")
    gallery_size: int = Field(24, ge=0, description="Images in the run's HTML gallery (highest positive_label probability first).")
    max_image_pixels: int = Field(
        DEFAULT_MAX_IMAGE_PIXELS, gt=0, description="Files declaring more pixels than this are rejected without being decoded."
    )
    skip_scored: bool = Field(True, description="Skip images already scored by the same model version (sha256).")
    staging_heartbeat_seconds: float = Field(30.0, gt=0, description="A run touches its _staging/<run_id>/heartbeat this often.")
    staging_dead_after_seconds: float = Field(
        900.0, gt=0, description="A later run deletes the staging of a run whose newest staged file is older than this (it died)."
    )
    progress_seconds: float = Field(
        10.0, gt=0, description="While the Beam job runs, dermflow score prints done/total, files/s and an ETA this often "
        "(when the count changed); the workers update their progress files as often."
    )

    dicom_results: Literal["none", "sr"] = Field("none", description=(
        "'sr': per DICOM input, a DICOM SR (TID 1500) and a Grad-CAM segmentation into score.clinical_results_dir "
        "and, with score.dicomweb_url, the PACS (docs/scoring.md#clinical-results)."))
    fhir_results: bool = Field(False, description="Per scored image: FHIR R4B DiagnosticReport + Observations, NDJSON per run.")
    clinical_results_dir: Path | None = Field(None, description=(
        "Where SRs, segmentations and FHIR go (owner-only, never inside --output); required when either is on."))
    dicomweb_url: str | None = Field(None, description=(
        "DICOMweb root of the PACS to store into (STOW-RS), e.g. http://pacs:8042/dicom-web. Credentials: "
        "DERMFLOW_DICOMWEB_USERNAME/_PASSWORD or _TOKEN, or score.dicomweb_conn_id; never in this URL."))
    dicomweb_conn_id: str | None = Field(None, description="Airflow connection with the DICOMweb login and password.")
    dicomweb_store_attempts: int = Field(3, ge=1, description="STOW-RS tries per image before its store counts as failed.")
    dicomweb_backoff_seconds: float = Field(0.5, ge=0.0, description="Wait before a store's 2nd try; doubled before each next.")

    @field_validator("dicomweb_url")
    @classmethod
    def _dicomweb_url(cls, value: str | None) -> str | None:
        parsed = urlparse(value or "")
        if value is not None and (parsed.scheme not in ("http", "https") or not parsed.netloc):
            raise ValueError("score.dicomweb_url must be an http:// or https:// DICOMweb root, e.g. http://pacs:8042/dicom-web")
        if parsed.password is not None or parsed.username is not None:
            raise ValueError("score.dicomweb_url must not hold credentials (the config is stored with the results and in "
                             "logs): set DERMFLOW_DICOMWEB_USERNAME and DERMFLOW_DICOMWEB_PASSWORD, or score.dicomweb_conn_id")
        return value.rstrip("/") if value else value

    def clinical_results_on(self) -> bool:
        return self.dicom_results != "none" or self.fhir_results

    @model_validator(mode="after")
    def _consistent(self) -> "ScoreConfig":
        if self.clinical_results_on() and self.clinical_results_dir is None:
            raise ValueError("score.clinical_results_dir is required when score.dicom_results is 'sr' or score.fhir_results "
                             "is true (results with patient identification never go under --output)")
        if self.dicomweb_url and self.dicom_results == "none":
            raise ValueError("score.dicomweb_url is set but score.dicom_results is 'none': set score.dicom_results=sr")
        if self.min_batch_size > self.max_batch_size:
            raise ValueError("score.min_batch_size must not exceed score.max_batch_size")
        if self.staging_dead_after_seconds < 3 * self.staging_heartbeat_seconds:
            raise ValueError("score.staging_dead_after_seconds must be at least 3 heartbeats, or a live run's staging could be deleted")
        return self


# Tried on this stack and found to lose data silently or break TFX (docs/deployment.md#beam-runners).
REFUSED_BEAM_RUNNERS: dict[str, str] = {
    "daskrunner": "Beam's DaskRunner drops finish_bundle outputs, computes only the last branch and no-ops io.Read",
    "pysparkrunner": "beam-pyspark-runner pins apache-beam 2.48 and breaks the TFX stack; RunInference fails on it",
}


class BeamConfig(Section):
    runner: str = Field("DirectRunner", description="Beam runner: DirectRunner (local), FlinkRunner, SparkRunner, DataflowRunner, ...")
    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = Field(
        "multi_processing", description="How the DirectRunner runs its workers.")
    direct_num_workers: int = Field(0, ge=0, description="0: one worker per CPU core.")
    extra_args: list[str] = Field(default_factory=list, description="Passed through to Beam, e.g. --flink_master=...")

    @field_validator("runner")
    @classmethod
    def _supported_runner(cls, value: str) -> str:
        name = value.rsplit(".", 1)[-1].replace("_", "").replace("-", "").lower()
        reason = REFUSED_BEAM_RUNNERS.get(name)
        if reason:
            raise ValueError(
                f"beam.runner {value!r} is refused: {reason}. Use DirectRunner, FlinkRunner, SparkRunner, "
                "PortableRunner or DataflowRunner (docs/deployment.md#beam-runners)"
            )
        return value

    def pipeline_args(self) -> list[str]:
        """Beam's command-line arguments.

        ``DirectRunner`` runs as Beam's FnApiRunner, the engine behind it. Beam's own DirectRunner
        first hands each pipeline to Prism, a Go binary that it downloads from GitHub at run time:
        offline that attempt costs about 0.7 s before it falls back to the FnApiRunner, and online
        the job would run on another engine, which ignores ``direct_running_mode`` and
        ``direct_num_workers``. Name ``PrismRunner`` to get Prism.

        The local runner stages no packages, so it names Beam's own SDK image as its dependencies.
        Without a dependency flag, every TFX Beam executor repackages the installed TFX (3 s, 52 MB)
        into a new temporary folder that nothing deletes (``tfx.utils.dependency_utils``).
        """
        if self.runner != "DirectRunner":
            return [f"--runner={self.runner}", *self.extra_args]
        from apache_beam.transforms.environments import DockerEnvironment

        return [
            "--runner=FnApiRunner",
            f"--direct_running_mode={self.direct_running_mode}",
            f"--direct_num_workers={self.direct_num_workers}",
            f"--sdk_container_image={DockerEnvironment.default_docker_image()}",
            *self.extra_args,
        ]
