"""Turns RunInference results and rejections into rows of the Parquet tables (schemas/scores_schema.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from dermflow.imaging import Rejection
from dermflow.inference.heatmap_overlay import heatmap_png
from dermflow.inference.lesion_predictor import LesionPrediction
from dermflow.pipelines.scoring.image_preparation_dofn import ImageKey

COLOUR_COLUMNS = ("mean_brightness", "mean_red", "mean_green", "mean_blue")


@dataclass(frozen=True)
class RunContext:
    """What every row of one run shares."""

    run_id: str
    model_name: str
    model_version: str
    labels: tuple[str, ...]
    heatmap_png_size: int


def prediction_row(key: ImageKey, inference: LesionPrediction, context: RunContext) -> dict:
    probabilities = np.asarray(inference.probabilities, dtype=np.float32)
    if probabilities.shape != (len(context.labels),):
        raise ValueError(f"model returned {probabilities.shape[0]} probabilities for {len(context.labels)} labels")
    index = int(inference.predicted_index)
    heatmap = np.asarray(inference.gradcam, dtype=np.float32)
    return {
        "path": key.relative_path,
        "sha256": key.sha256,
        "format": key.format,
        "width": key.width,
        "height": key.height,
        **(key.colour.as_columns() if key.colour else dict.fromkeys(COLOUR_COLUMNS)),
        "dicom_uid_sha256": key.dicom_uid_sha256,
        "model_name": context.model_name,
        "predicted_label": context.labels[index],
        "predicted_index": index,
        "predicted_probability": float(probabilities[index]),
        "probabilities": [(label, float(p)) for label, p in zip(context.labels, probabilities)],
        "in_scope_score": inference.in_scope_score,
        "out_of_scope": inference.out_of_scope,
        "prediction_set": None if inference.prediction_set is None else list(inference.prediction_set),
        "prediction_set_size": inference.prediction_set_size,
        "gradcam": heatmap.ravel().tolist(),
        "gradcam_shape": list(heatmap.shape),
        "gradcam_png": heatmap_png(heatmap, context.heatmap_png_size),
        "gradcam_in_lesion": inference.gradcam_in_lesion,
        "attention_off_lesion": inference.attention_off_lesion,
        "lesion_area": inference.lesion_area,
        "scored_at": datetime.now(timezone.utc),
        "run_id": context.run_id,
    }


def error_row(rejection: Rejection, context: RunContext) -> dict:
    return {
        "path": rejection.file,
        "reason": str(rejection.reason),
        "message": rejection.message,
        "model_version": context.model_version,
        "rejected_at": datetime.now(timezone.utc),
    }
