"""The sections of the running services: ``paths``, ``airflow``, ``cluster``, ``serve``, ``review``, ``retrain``.

    cfg.paths.registry, cfg.serve.port, cfg.review.database_url, cfg.retrain.min_new_verdicts
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, field_validator

from dermflow.config.config_base import Section


def refuse_password_in_url(url: str | None, setting: str, form: str, password_file: str, env_var: str) -> str | None:
    """Refuses a URL holding a password, saying where the password goes instead."""
    # The whole config travels as JSON into TFX execution properties (MLMD), the registry's
    # config.json and provenance.json, and the logs: a password in a URL would be in all of them.
    if url and urlparse(url).password is not None:
        raise ValueError(
            f"{setting} must not hold a password (the config is stored in ML Metadata, the registry and logs): "
            f"write {form} and put the password in {password_file} or the {env_var} variable"
        )
    return url


class PathsConfig(Section):
    work_dir: Path = Field(Path("var/work"), description="TFX pipeline root, ML Metadata, checkpoints and logs.")
    registry: Path = Field(Path("var/registry"), description="Where blessed models are pushed (<registry>/<model_name>/<version>/).")
    pipeline_root: Path | None = Field(None, description="TFX pipeline root; default <work_dir>/tfx.")
    metadata_path: Path | None = Field(None, description="ML Metadata SQLite file; default <work_dir>/metadata.sqlite.")
    metadata_connection: str | None = Field(
        None, description="ML Metadata on a shared database, e.g. mysql://user@host:3306/mlmd; overrides metadata_path."
    )
    metadata_password_file: Path | None = Field(
        None, description="KEY=VALUE file whose MLMD_PASSWORD is the mysql:// password, read at connection time "
        "(env DERMFLOW_MLMD_PASSWORD wins); never a password in metadata_connection.",
    )

    @field_validator("metadata_connection")
    @classmethod
    def _no_password_in_the_url(cls, value: str | None) -> str | None:
        return refuse_password_in_url(value, "paths.metadata_connection", "mysql://USER@HOST:PORT/DB",
                                      "paths.metadata_password_file (MLMD_PASSWORD=...)", "DERMFLOW_MLMD_PASSWORD")

    def resolved_pipeline_root(self) -> Path:
        return self.pipeline_root or self.work_dir / "tfx"

    def resolved_metadata_path(self) -> Path:
        return self.metadata_path or self.work_dir / "metadata.sqlite"


class AirflowConfig(Section):
    schedule: str | None = Field("@weekly", description="The retraining DAG's schedule (cron or preset); null: triggered only.")
    retries: int = Field(2, ge=0, description="Retries of a failed Airflow task.")
    retry_delay_seconds: int = Field(60, gt=0, description="Delay before the first retry.")
    retry_backoff: float = Field(2.0, ge=0.0, description="Multiplier of the delay between retries (0: constant).")
    max_retry_delay_seconds: int = Field(3600, gt=0, description="Longest delay between retries.")
    gpu_nodes: list[str] = Field(default_factory=lambda: ["Trainer"], description="TFX nodes sent to gpu_queue/gpu_pool.")
    gpu_queue: str = Field("gpu", description="Celery queue of the GPU nodes.")
    gpu_pool: str = Field("default_pool", description="Airflow pool of the GPU nodes.")
    default_queue: str = Field("default", description="Celery queue of every other task.")
    score_inputs: list[str] = Field(default_factory=list, description="Folders re-scored when a new model is pushed.")
    score_output: Path = Field(Path("var/scores"), description="The scoring DAG's output folder.")
    score_shards: int = Field(1, ge=1, description="Scoring tasks that share a run (list_shards -> score[N] -> reconcile).")


class ClusterConfig(Section):
    """The local distributed mode (``dermflow cluster up``): Postgres, Redis, MariaDB, Airflow on Celery (docs/deployment.md)."""

    state_dir: Path = Field(Path("var/cluster"), description="Data dirs, logs, PID files and secrets.env (git-ignored).")
    default_workers: int = Field(1, ge=1, description="Celery workers serving airflow.default_queue.")
    gpu_workers: int = Field(1, ge=0, description="Celery workers serving airflow.gpu_queue.")
    worker_concurrency: int = Field(1, ge=1, description="Task slots per Celery worker.")
    task_heartbeat_timeout_seconds: int = Field(
        60, ge=10, description="A running task silent this long (its worker died) is failed and retried."
    )
    start_timeout_seconds: int = Field(180, gt=0, description="How long `up` waits for every service to be healthy.")
    stop_grace_seconds: int = Field(20, gt=0, description="SIGTERM, then SIGKILL after this long.")
    install_missing: bool = Field(True, description="apt-get install postgresql / redis-server / mariadb-server when missing (root only).")


class ServeConfig(Section):
    """The web page and JSON API (``dermflow serve``, docs/serving.md)."""

    host: str = Field("127.0.0.1", description="Bind address (IPv6: ::1 or [::1]); not loopback: allow_remote + allowed_hosts.")
    port: int = Field(8765, ge=0, le=65535, description="TCP port (0: any free port).")
    allow_remote: bool = Field(False, description="Permit a non-loopback host (then all but /healthz needs a user or API token).")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host names it answers to (--allowed-host; with allow_remote).")
    require_sign_in: bool = Field(False, description="Ask for a signed-in user or API token on loopback too (dermflow users).")
    tls_certfile: Path | None = Field(None, description="PEM certificate for HTTPS (uvicorn ssl_certfile).")
    tls_keyfile: Path | None = Field(None, description="PEM private key for HTTPS (uvicorn ssl_keyfile).")
    max_upload_bytes: int = Field(20_000_000, gt=0, description="Uploads larger than this get 413.")
    max_form_parts: int = Field(8, gt=0, description="Parts (or fields) a form may have; more: 400, parsing stops there.")
    max_batch_size: int = Field(16, gt=0, description="Requests batched into one model call at most.")
    batch_wait_ms: float = Field(10.0, ge=0.0, description="How long the first request of a batch waits for others.")
    queue_size: int = Field(64, gt=0, description="Requests waiting for the model at most; beyond: 503 with Retry-After.")
    retry_after_seconds: int = Field(1, ge=1, description="Retry-After of a 503.")
    request_timeout_seconds: float = Field(60.0, gt=0.0, description="A request waiting longer than this for the model gets 503.")
    follow_latest: bool = Field(False, description="Switch to the registry's LATEST when it moves (else: stay pinned).")
    follow_interval_seconds: float = Field(5.0, gt=0.0, description="How often follow_latest looks at LATEST.")
    page_size: int = Field(50, gt=0, le=1000, description="Rows per page of /results.")
    thumbnail_size: int = Field(160, gt=0, description="Side of the results thumbnails.")

    @field_validator("host", mode="before")
    @classmethod
    def _bare_ipv6(cls, value: Any) -> Any:  # "[::1]" -> "::1", as uvicorn takes it
        return value[1:-1] if isinstance(value, str) and value.startswith("[") and value.endswith("]") else value


# Why a verdict's diagnosis is known (dermflow/review/review_enums.py: VerdictBasis, the same values).
VERDICT_BASES: tuple[str, ...] = ("histopathology", "consensus", "follow_up", "single_expert")
REVIEW_DATABASE_SCHEMES: tuple[str, ...] = ("sqlite", "postgresql", "postgresql+psycopg2")


class ReviewConfig(Section):
    """The review store: accounts, sign-ins and clinicians' verdicts (``dermflow users``, ``verdicts``, docs/review.md)."""

    database_url: str = Field(
        "sqlite:///var/review/review.sqlite",
        description="sqlite:///PATH (WAL: a local disk only) or postgresql+psycopg2://USER@HOST:PORT/DB, no password.",
    )
    password_file: Path | None = Field(
        None, description="KEY=VALUE file whose REVIEW_DB_PASSWORD is the PostgreSQL password, read at connection time "
        "(env DERMFLOW_REVIEW_DB_PASSWORD wins); never a password in database_url.",
    )
    session_hours: float = Field(12.0, gt=0, description="A sign-in expires this long after it was made.")
    login_max_failures: int = Field(5, ge=1, description="Failed sign-ins of one name within login_window_seconds before refusing.")
    login_window_seconds: int = Field(900, gt=0, description="The window login_max_failures counts in.")
    queue_melanoma_band: list[float] = Field(
        default_factory=lambda: [0.3, 0.7], description="[low, high]: rows whose melanoma probability lies inside go to the queue."
    )
    audit_share: float = Field(0.05, ge=0.0, le=1.0, description="Random share of confident rows sent to the queue (random_audit).")
    audit_seed: int = Field(0, description="Seed of that random choice (the same seed picks the same rows).")
    training_bases: list[Literal[*VERDICT_BASES]] = Field(
        default_factory=lambda: ["histopathology", "consensus"], min_length=1,
        description="Verdict bases whose cases become training data (issue 27); the image's current verdict must have one.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = urlparse(value).scheme
        if scheme not in REVIEW_DATABASE_SCHEMES:
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in REVIEW_DATABASE_SCHEMES)}")
        if scheme == "sqlite" and not value.removeprefix("sqlite://").lstrip("/"):
            raise ValueError("sqlite:// needs a file (sqlite:///var/review/review.sqlite): verdicts must persist")
        return refuse_password_in_url(value, "review.database_url", "postgresql+psycopg2://USER@HOST:PORT/DB",
                                      "review.password_file (REVIEW_DB_PASSWORD=...)", "DERMFLOW_REVIEW_DB_PASSWORD")

    @field_validator("queue_melanoma_band")
    @classmethod
    def _band(cls, value: list[float]) -> list[float]:
        if len(value) != 2 or not 0.0 <= value[0] < value[1] <= 1.0:
            raise ValueError("must be [low, high] with 0 <= low < high <= 1")
        return value


class RetrainConfig(Section):
    """Continuous training: spans, the reviewed cases as training data, what starts a retraining, and the warm start's
    schedule (docs/training.md#continuous-training)."""

    reviewed_slice_fraction: float = Field(
        0.2, ge=0.0, lt=1.0,
        description="Share of the reviewed cases' lesion groups held out as the reviewed slice (chosen by a hash of the "
        "group's key, fixed once chosen), measured beside the test split; 0: none.")
    source_roots: list[Path] = Field(
        default_factory=list,
        description="Folders the verdicts' image paths (relative to the scoring input) are read from, to write the "
        "reviewed cases' span; empty: airflow.score_inputs. Kept web uploads come from the review store.")
    min_new_verdicts: int = Field(
        50, ge=1,
        description="The watcher DAG emits the training-data asset event once this many images have a current verdict "
        "with one of review.training_bases recorded since the last reviewed-cases span.")
    min_interval_hours: float = Field(
        24.0, ge=0.0,
        description="A scheduled or asset-triggered retraining this soon after the last ingest is skipped (a manual "
        "trigger always runs); 0: no limit.")
    watch_schedule: str | None = Field("@hourly", description="The watcher DAG's schedule (cron or preset); null: "
                                       "triggered by hand only.")
    warm_start_head_epochs: int = Field(
        0, ge=0, description="Warm start: phase 1 (head only) epochs; the head comes trained.")
    warm_start_fine_tune_epochs: int = Field(
        1, ge=0, description="Warm start: phase 2 epochs, fine_tune_layers of the backbone as in train.")
    warm_start_learning_rate: float = Field(
        1e-4, gt=0, description="Warm start: phase 2 peak learning rate (train.fine_tune_schedule).")
    warm_start_feature_cache: bool = Field(
        False, description="Warm start: train.feature_cache for its few epochs (the cache costs four passes over the "
        "train split, more than two epochs).")
