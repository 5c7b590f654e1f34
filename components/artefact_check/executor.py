"""ArtefactCheck executor: the exported model, the eval split, artefacts pasted; figures, examples and the verdict."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from tfx.dsl.components.base.base_executor import BaseExecutor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from dermflow.components.artefact_check.check_inputs import read_check_images
from dermflow.components.artefact_check.example_pictures import write_examples
from dermflow.config import DermflowConfig
from dermflow.evaluation.artefact_check import CheckSettings, ModelOutputs, measure_artefacts
from dermflow.evaluation.artefact_summary import MEASUREMENTS_FILE, PASSED_PROPERTY, REPORT_FILE, summarise
from dermflow.inference.lesion_predictor import LesionPredictor
from dermflow.isic.label_vocabulary import read_label_names

log = logging.getLogger(__name__)

CONFIG_KEY = "config_json"
MODEL_KEY = "model"
EXAMPLES_KEY = "examples"
LABEL_VOCABULARY_KEY = "label_vocabulary"
ARTEFACT_REPORT_KEY = "artefact_report"
EVAL_SPLIT = "eval"


class Executor(BaseExecutor):
    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
        cfg = DermflowConfig.from_json(exec_properties[CONFIG_KEY])
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        vocabulary = artifact_utils.get_single_instance(input_dict[LABEL_VOCABULARY_KEY])
        output = artifact_utils.get_single_instance(output_dict[ARTEFACT_REPORT_KEY])
        labels = read_label_names(Path(vocabulary.uri))
        report = run_check(cfg, Path(path_utils.serving_model_path(model.uri)),
                           artifact_utils.get_split_uri([examples], EVAL_SPLIT), labels, Path(output.uri))
        output.set_int_custom_property(PASSED_PROPERTY, int(report["passed"]))
        (log.info if report["passed"] else log.warning)("ArtefactCheck: %s", report["reason"])


def run_check(cfg: DermflowConfig, serving_dir: Path, eval_split_uri: str, labels: list[str], out: Path) -> dict:
    """Measures, writes ``artefact_check.json``, ``measurements.npz`` and the example pictures into ``out``; returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    settings = CheckSettings(kinds=tuple(cfg.eval.artefact_kinds), seed=cfg.eval.artefact_seed)
    images = read_check_images(eval_split_uri, len(labels), cfg.eval.artefact_check_images, cfg.data.data_root)
    if not images:
        report = not_checked(cfg, labels)
        (out / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
        return report
    predictor = LesionPredictor.load(serving_dir, max_pixels=cfg.data.max_image_pixels)
    log.info("ArtefactCheck: %d eval images, artefacts %s", len(images), ", ".join(settings.kinds))
    measured = measure_artefacts(images, predict_outputs(predictor), lambda data: predictor.prepare(data).data, settings)
    report = summarise(measured, labels, cfg.eval.max_artefact_flip_rate, seed=settings.seed,
                       gate_kinds=cfg.eval.artefact_gate_kinds)
    report["examples"] = write_examples(out, images, measured, labels, settings)
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    np.savez_compressed(out / MEASUREMENTS_FILE, image_ids=np.array(measured.image_ids), labels=measured.labels,
                        probabilities=measured.probabilities, lesion_mass=measured.lesion_mass,
                        variants=np.array(measured.variants), label_names=np.array(labels))
    return report


def not_checked(cfg: DermflowConfig, labels: list[str]) -> dict:
    """The report when there is nothing to check: passed, and saying why."""
    why = ("eval.artefact_check_images is 0" if cfg.eval.artefact_check_images == 0 else "the eval split has no images")
    return {"labels": labels, "images": {}, "kinds": list(cfg.eval.artefact_kinds), "gated": False, "passed": True,
            "gate_kinds": list(cfg.eval.artefact_gate_kinds),
            "failed_kinds": [], "max_flip_rate": cfg.eval.max_artefact_flip_rate, "artefacts": {},
            "reason": f"artefact check: not run ({why})", "lesion_mass_clean": None, "reencoded_flip_rate": None,
            "mask_sources": {}, "examples": {}}


def predict_outputs(predictor: LesionPredictor):
    """The check's ``predict``: prepared JPEGs -> probabilities and Grad-CAMs from the model's ``gradcam_images``."""

    def predict(images: list[bytes]) -> ModelOutputs:
        predictions = predictor.predict(images, lesion_attention=False)  # the check measures its own
        return ModelOutputs(np.stack([p.probabilities for p in predictions]), np.stack([p.gradcam for p in predictions]))

    return predict
