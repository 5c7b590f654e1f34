"""Checks of a command's inputs that take about a second, run before any heavy import.

    check_training_inputs(cfg)                                 # raises UsageError
    registered = check_scoring_inputs(cfg, inputs, model, output)

A wrong path, a CSV with the wrong columns, missing weights or a missing model (or one exported
without the image-path record scoring needs), a clinical results folder inside the output, a PACS
that does not answer or refuses the credentials, is a user mistake: it must answer in one line, at
once, not after TensorFlow has loaded and ingest has run. Nothing here imports TensorFlow, TFX or Beam.
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from dermflow.config import DermflowConfig, ModelConfig
from dermflow.imaging.model_input import LegacyImagePathError
from dermflow.isic.csv_reader import IsicCsvError, read_isic_csvs
from dermflow.models.export_layout import read_export_image_path
from dermflow.registry import RegisteredModel, RegistryError, resolve_model
from dermflow.weights.backbone_weights import resolve_backbone_weights
from dermflow.weights.keras_weights_cache import keras_models_dir

_GLOB_MAGIC = re.compile(r"[*?\[]")


class UsageError(ValueError):
    """A user mistake found before the job starts; the message is the one line the CLI prints."""


def check_training_inputs(cfg: DermflowConfig) -> None:
    root = cfg.data.data_root
    if root is None:
        raise UsageError("no data root: give --data-root (or data.data_root in the config)")
    _readable_dir(Path(root), "data root")
    _readable_dir(Path(root) / cfg.data.images_dir, "images folder")
    try:
        read_isic_csvs(Path(root) / cfg.data.ground_truth_csv, Path(root) / cfg.data.metadata_csv)
    except IsicCsvError as exc:
        raise UsageError(str(exc)) from None
    check_writable(Path(cfg.paths.work_dir), "work dir")
    check_writable(Path(cfg.paths.registry), "registry")
    check_backbone_weights(cfg.model)


def check_backbone_weights(model: ModelConfig) -> None:
    """The weights ``model`` starts from exist, for any backbone: the model builder's own resolution, without TensorFlow."""
    resolve_backbone_weights(model.backbone, model.weights, model.alpha, model.image_size)


def weights_location(model: ModelConfig) -> str:
    """Where the backbone's weights are looked for, for the line the commands print."""
    if model.weights == "imagenet":
        return f"{keras_models_dir()} (KERAS_HOME={os.environ.get('KERAS_HOME', '~/.keras')})"
    return model.weights


def check_scoring_inputs(cfg: DermflowConfig, inputs: list[str], model: str, output: Path) -> RegisteredModel:
    try:
        registered = resolve_model(model, default_name=cfg.model_name)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None
    try:
        read_export_image_path(registered.saved_model_dir, cfg.score.max_image_pixels)
    except LegacyImagePathError as exc:
        raise UsageError(f"--model {model}: {exc}") from None
    for spec in inputs:
        check_input_matches(spec, cfg.score.dicomweb_conn_id)
    check_writable(Path(output), "output folder")
    check_clinical_results(cfg, output)
    return registered


def check_drift_inputs(cfg: DermflowConfig, model: str, output: Path, run_id: str) -> RegisteredModel:
    """``dermflow drift``: the model resolves, and ``run_id`` was published under ``output`` by its version."""
    try:
        registered = resolve_model(model, default_name=cfg.model_name)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None
    if "://" in str(output):
        return registered  # object stores: the job finds out
    if not Path(output).is_dir():
        raise UsageError(f"--output {output} is not a folder")
    versions = scored_by_versions(Path(output), run_id)
    if not versions and not (Path(output) / "errors" / f"run_id={run_id}").is_dir():
        raise UsageError(f"no scoring run {run_id!r} under {output} (no predictions or errors of it)")
    if versions and registered.version not in versions:
        raise UsageError(f"run {run_id} was scored by model version {', '.join(versions)}, not {registered.version}: "
                         f"give --model .../{versions[0]}")
    return registered


def scored_by_versions(output: Path, run_id: str) -> list[str]:
    """The model versions with prediction files of ``run_id`` under a local scoring output."""
    files = Path(output).glob(f"predictions/model_version=*/**/part-{run_id}-*.parquet")
    return sorted({part[len("model_version="):] for path in files for part in path.parts if part.startswith("model_version=")})


def check_clinical_results(cfg: DermflowConfig, output: Path) -> None:
    """``score.clinical_results_dir`` outside ``--output`` and writable; ``score.dicomweb_url`` answering, credentials accepted."""
    from dermflow.clinical.clinical_files import ClinicalDirError, check_clinical_dir

    if cfg.score.clinical_results_on():
        try:
            check_clinical_dir(cfg.score.clinical_results_dir, output)
        except ClinicalDirError as exc:
            raise UsageError(str(exc)) from None
    if cfg.score.dicomweb_url:
        _check_dicomweb(cfg.score.dicomweb_url, cfg.score.dicomweb_conn_id, "score.dicomweb_url")


def _check_dicomweb(url: str, conn_id: str | None, what: str) -> None:
    from dermflow.clinical.dicomweb_credentials import dicomweb_auth
    from dermflow.clinical.dicomweb_store import DicomwebEndpointError, check_dicomweb_endpoint

    try:
        check_dicomweb_endpoint(url, dicomweb_auth(conn_id), what)
    except DicomwebEndpointError as exc:
        raise UsageError(str(exc)) from None


def check_input_matches(spec: str, dicomweb_conn_id: str | None = None) -> None:
    """A local --input that matches nothing is refused here, and a ``dicomweb://`` one whose PACS does not
    answer (or refuses the credentials); other URLs are listed by the job itself."""
    from dermflow.clinical.dicomweb_source import DicomwebInputError, is_dicomweb, parse_dicomweb_input, redact

    if is_dicomweb(spec):
        try:
            parsed = parse_dicomweb_input(spec)
        except DicomwebInputError as exc:
            raise UsageError(f"--input {redact(spec)!r}: {exc}") from None
        _check_dicomweb(parsed.base_url, dicomweb_conn_id, f"--input {parsed.redacted()}: the PACS at")
        return
    if "://" in str(spec):
        return
    if _GLOB_MAGIC.search(str(spec)):
        if not glob.glob(str(spec), recursive=True):
            raise UsageError(f"--input {spec!r} matches no file")
    elif not os.path.lexists(spec):
        raise UsageError(f"--input {spec!r} matches no file")
    elif os.path.isdir(spec) and not os.access(spec, os.R_OK | os.X_OK):
        raise UsageError(f"--input {spec!r} is a folder that cannot be read")


def check_writable(path: Path, what: str) -> None:
    """``path`` exists as a writable folder, or can be made (its nearest existing parent is writable)."""
    if "://" in str(path):
        return
    existing = Path(os.path.abspath(path))
    while not existing.exists():
        existing = existing.parent
    if existing != Path(os.path.abspath(path)) and not existing.is_dir():
        raise UsageError(f"{what} {path} cannot be made: {existing} is not a folder")
    if existing == Path(os.path.abspath(path)) and not existing.is_dir():
        raise UsageError(f"{what} {path} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path} is not writable ({existing} is read-only for this user)")


def _readable_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise UsageError(f"{what} {path} is not a folder" if path.exists() else f"{what} {path} does not exist")
    if not os.access(path, os.R_OK | os.X_OK):
        raise UsageError(f"{what} {path} cannot be read")
