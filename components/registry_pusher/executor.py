"""RegistryPusher executor: when the Evaluator blessed the model and it passed the artefact check, publish it.

The published SavedModel folder also carries, under ``assets.extra/``, the Trainer's
``history.json``, ``eval_predictions.npz`` (the eval split scored by the exported model) and the
ArtefactCheck's ``artefact_check/`` (its JSON and example pictures), so that the version directory
is complete the moment LATEST points to it. ``metrics.json`` gets the check's figures under ``artefacts``.
"""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tfx.components.util import model_utils
from tfx.dsl.components.base.base_executor import BaseExecutor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from dermflow.components.registry_pusher.eval_predictions import write_eval_predictions
from dermflow.config import DermflowConfig
from dermflow.evaluation.artefact_summary import EXAMPLES_DIR as ARTEFACT_EXAMPLES_DIR
from dermflow.evaluation.artefact_summary import REPORT_FILE as ARTEFACT_REPORT_FILE
from dermflow.evaluation.artefact_summary import VERSION_FOLDER as ARTEFACT_CHECK_DIR
from dermflow.evaluation.artefact_summary import metrics_summary
from dermflow.evaluation.eval_result_reader import read_eval_metrics, read_validation
from dermflow.isic.label_vocabulary import LABELS_JSON, read_label_names
from dermflow.registry import publish_version, read_labels

log = logging.getLogger(__name__)

CONFIG_KEY = "config_json"
MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"
EVALUATION_KEY = "evaluation"
LABEL_VOCABULARY_KEY = "label_vocabulary"
MODEL_RUN_KEY = "model_run"
EXAMPLES_KEY = "examples"
ARTEFACT_REPORT_KEY = "artefact_report"
PUSHED_MODEL_KEY = "pushed_model"

# The stock Pusher's custom properties (tfx/components/pusher/executor.py).
PUSHED = "pushed"
PUSHED_DESTINATION = "pushed_destination"
PUSHED_VERSION = "pushed_version"

ASSETS_EXTRA = "assets.extra"
HISTORY_FILE = "history.json"
EVAL_PREDICTIONS_FILE = "eval_predictions.npz"
WEIGHTS_PROVENANCE_FILE = "weights_provenance.json"
NOT_PUSHED_FILE = "not_pushed.json"
PUSHED_FILE = "pushed.json"


class VocabularyMismatchError(ValueError):
    """The model was trained on other labels than the data's vocabulary."""


class Executor(BaseExecutor):
    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        cfg = DermflowConfig.from_json(exec_properties[CONFIG_KEY])
        pushed_model = artifact_utils.get_single_instance(output_dict[PUSHED_MODEL_KEY])
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        blessing = artifact_utils.get_single_instance(input_dict[MODEL_BLESSING_KEY])
        evaluation = artifact_utils.get_single_instance(input_dict[EVALUATION_KEY])
        vocabulary = artifact_utils.get_single_instance(input_dict[LABEL_VOCABULARY_KEY])

        artefact_report = artifact_utils.get_single_instance(input_dict[ARTEFACT_REPORT_KEY])
        labels = read_label_names(Path(vocabulary.uri))
        metrics = read_eval_metrics(evaluation.uri, labels)
        artefacts = read_artefact_report(Path(artefact_report.uri))
        metrics["artefacts"] = metrics_summary(artefacts)
        reasons = [] if model_utils.is_model_blessed(blessing) else [read_validation(evaluation.uri).reason]
        if not artefacts["passed"]:
            reasons.append(artefacts["reason"])
        if reasons:
            reason = "not blessed: " + "; ".join(reasons)
            log.warning("RegistryPusher: model %s is not pushed, %s", model.uri, reason)
            write_json(Path(pushed_model.uri) / NOT_PUSHED_FILE,
                       {"reason": reason, "metrics": metrics["overall"], "artefacts": metrics["artefacts"]})
            pushed_model.set_int_custom_property(PUSHED, 0)
            return

        serving_dir = Path(path_utils.serving_model_path(model.uri))
        check_vocabulary(labels, serving_dir)
        provenance = build_provenance(cfg, serving_dir, vocabulary, [model, blessing, evaluation], self._context)
        with tempfile.TemporaryDirectory(prefix="registry_push_") as staging:
            saved_model_dir = stage_saved_model(serving_dir, Path(staging), input_dict)
            registered = publish_version(
                registry=cfg.paths.registry,
                model_name=cfg.model_name,
                saved_model_dir=saved_model_dir,
                keras_file=serving_dir / ASSETS_EXTRA / "model.keras",
                labels=labels,
                metrics=metrics,
                provenance=provenance,
                config_json=cfg.to_json(),
            )
        log.info("RegistryPusher: pushed %s version %s to %s", cfg.model_name, registered.version, registered.path)
        write_json(Path(pushed_model.uri) / PUSHED_FILE, {"version": registered.version, "path": str(registered.path)})
        pushed_model.set_int_custom_property(PUSHED, 1)
        pushed_model.set_string_custom_property(PUSHED_DESTINATION, str(registered.path))
        pushed_model.set_string_custom_property(PUSHED_VERSION, registered.version)


def check_vocabulary(labels: list[str], serving_dir: Path) -> None:
    model_labels = read_labels(serving_dir / ASSETS_EXTRA / "labels.txt")
    if model_labels != labels:
        raise VocabularyMismatchError(
            f"the model's labels {model_labels} ({serving_dir}) differ from the data's vocabulary {labels}"
        )


def stage_saved_model(serving_dir: Path, staging: Path, input_dict: dict[str, list]) -> Path:
    """A copy of the SavedModel with the training history and the eval predictions added to assets.extra."""
    staged = staging / "saved_model"
    shutil.copytree(serving_dir, staged)
    extra = staged / ASSETS_EXTRA
    extra.mkdir(exist_ok=True)
    model_runs = input_dict.get(MODEL_RUN_KEY) or []
    if model_runs and (Path(model_runs[0].uri) / HISTORY_FILE).is_file():
        shutil.copy2(Path(model_runs[0].uri) / HISTORY_FILE, extra / HISTORY_FILE)
    artefact_reports = input_dict.get(ARTEFACT_REPORT_KEY) or []
    if artefact_reports:
        copy_artefact_report(Path(artefact_reports[0].uri), extra / ARTEFACT_CHECK_DIR)
    examples = input_dict.get(EXAMPLES_KEY) or []
    if examples:
        count = write_eval_predictions(str(serving_dir), examples[0], extra / EVAL_PREDICTIONS_FILE)
        log.info("RegistryPusher: scored %d eval examples for the report", count)
    return staged


def read_artefact_report(folder: Path) -> dict:
    path = folder / ARTEFACT_REPORT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the ArtefactCheck wrote no {ARTEFACT_REPORT_FILE} in {folder}")
    return json.loads(path.read_text(encoding="utf-8"))


def copy_artefact_report(folder: Path, target: Path) -> None:
    """The check's JSON and example pictures (not its per-image measurements) into the version."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(folder / ARTEFACT_REPORT_FILE, target / ARTEFACT_REPORT_FILE)
    if (folder / ARTEFACT_EXAMPLES_DIR).is_dir():
        shutil.copytree(folder / ARTEFACT_EXAMPLES_DIR, target / ARTEFACT_EXAMPLES_DIR)


def build_provenance(cfg: DermflowConfig, serving_dir: Path, vocabulary, artifacts: list, context) -> dict:
    weights_file = serving_dir / ASSETS_EXTRA / WEIGHTS_PROVENANCE_FILE
    vocabulary_file = Path(vocabulary.uri) / LABELS_JSON
    vocabulary_doc = json.loads(vocabulary_file.read_text(encoding="utf-8")) if vocabulary_file.is_file() else {}
    return {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "weights": json.loads(weights_file.read_text(encoding="utf-8")) if weights_file.is_file() else None,
        "data": {
            "data_root": str(cfg.data.data_root) if cfg.data.data_root else None,
            "counts": vocabulary_doc.get("counts", {}),
            "out_of_scope": vocabulary_doc.get("out_of_scope", {}),
            "dropped": vocabulary_doc.get("dropped", {}),
        },
        "pipeline": {
            "name": cfg.pipeline_name,
            "run_id": getattr(context, "pipeline_run_id", None) if context else None,
            "artifacts": {artifact.type_name: {"id": artifact.id, "uri": artifact.uri} for artifact in artifacts},
            "model_uri": str(serving_dir),
        },
        "git_commit": git_commit(),
    }


def git_commit() -> str | None:
    """The commit of the code that ran, when it runs from a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True), encoding="utf-8")
