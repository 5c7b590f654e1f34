"""One model answer as the JSON the API returns, and the batch call the micro-batcher makes.

    results = predict_many([(served_model, prepared_jpeg), ...])   # one model call per version present
    body = prediction_body(served_model, prediction, prepared, notice)
    png = heat_overlay_png(prediction.gradcam)                      # transparent RGBA, jet colours
"""
from __future__ import annotations

import base64
import dataclasses
from typing import Any, Sequence

import numpy as np

from dermflow.imaging import encode_png
from dermflow.inference.heatmap_overlay import jet, upsample_heatmap
from dermflow.inference.lesion_predictor import LesionPrediction
from dermflow.inference.prediction_reading import read_row
from dermflow.trust.out_of_scope_reason import WORDING, OutOfScopeReason
from dermflow.serving.served_model import ServedModel

# LesionPrediction's own fields; any other field (trust outputs, when present) is passed through as is.
_CORE_FIELDS = {"probabilities", "predicted_index", "predicted_label", "gradcam"}
OVERLAY_SIDE = 128  # side of the transparent Grad-CAM PNG that predict returns
OVERLAY_MAX_ALPHA = 0.85


def plain(value: Any) -> Any:
    """numpy values -> JSON-ready Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def predict_many(items: Sequence[tuple[ServedModel, bytes]]) -> list[tuple[ServedModel, LesionPrediction]]:
    """One model call per model version present in the batch (one, except across a reload)."""
    results: list[Any] = [None] * len(items)
    groups: dict[int, tuple[ServedModel, list[int]]] = {}
    for index, (model, _) in enumerate(items):
        groups.setdefault(id(model), (model, []))[1].append(index)
    for model, indices in groups.values():
        predictions = model.predictor.predict([items[i][1] for i in indices])
        for i, prediction in zip(indices, predictions):
            results[i] = (model, prediction)
    return results


def heat_overlay_png(heatmap: np.ndarray, side: int = OVERLAY_SIDE) -> bytes:
    """The Grad-CAM as a transparent RGBA PNG to lay over the image: jet colours, alpha rising with the heat.

    A small PNG that the browser scales smoothly: about 1 ms, where a blended overlay at the image's
    size costs 25 to 100 ms of CPU per request (the model call itself is about 8 ms an image).
    """
    heat = upsample_heatmap(heatmap, side)
    alpha = np.rint(heat * 255.0 * OVERLAY_MAX_ALPHA).astype(np.uint8)
    return encode_png(np.concatenate([jet(heat), alpha[..., None]], axis=-1))


def prediction_body(model: ServedModel, prediction: LesionPrediction, prepared, notice: str) -> dict:
    probabilities = np.asarray(prediction.probabilities, dtype=np.float32)
    heatmap = np.asarray(prediction.gradcam, dtype=np.float32)
    body = {
        "model": {"name": model.name, "version": model.version},
        "labels": model.labels,
        "probabilities": {label: float(p) for label, p in zip(model.labels, probabilities)},
        "predicted_label": prediction.predicted_label,
        "predicted_index": int(prediction.predicted_index),
        "predicted_probability": float(probabilities[prediction.predicted_index]),
        "gradcam": {"shape": list(heatmap.shape), "values": heatmap.tolist()},
        "overlay_png_base64": base64.b64encode(heat_overlay_png(heatmap)).decode("ascii"),
        # The prepared JPEG itself: the pixels the model read, without any metadata (DICOM: pixels only).
        "image_jpeg_base64": base64.b64encode(prepared.data).decode("ascii"),
        "image": {"format": prepared.format, "width": prepared.width, "height": prepared.height},
        "notice": notice,
    }
    for extra in dataclasses.fields(prediction):
        if extra.name not in _CORE_FIELDS:
            body[extra.name] = plain(getattr(prediction, extra.name))
    body["class_names"] = {label: model.facts.shown(label) for label in model.labels}
    if prediction.out_of_scope_reason:  # the words for the flag's signal (docs/trust.md)
        body["out_of_scope_message"] = WORDING[OutOfScopeReason(prediction.out_of_scope_reason)]
    body["reading"] = read_row(model.facts, body).as_dict()
    return body
