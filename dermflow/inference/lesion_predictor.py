"""The one predictor: an exported model plus the image path it was trained with.

Batch scoring (through a thin Beam ``ModelHandler``) and the web server both call this, so a file
gets one answer wherever it is scored:

    predictor = LesionPredictor.load(registered.saved_model_dir, max_pixels=cfg.score.max_image_pixels)
    prepared = predictor.prepare(file_bytes)          # NormalizedJpeg, as ingest made it (raises ImageRejected)
    [prediction] = predictor.predict([prepared.data])  # LesionPrediction: probabilities, label, Grad-CAM,
                                                       #   in_scope_score, out_of_scope, prediction_set,
                                                       #   gradcam_in_lesion, attention_off_lesion, lesion_area

``prepare`` applies the exact normalisation that ingest applied to the training and evaluation
images (with the settings recorded in the model); ``predict`` hands those bytes to the model's own
``gradcam_images`` signature, whose in-graph decode and resize are the ones TFMA's
``serving_default`` runs. The model input is therefore bit-identical to the evaluated one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dermflow.imaging.jpeg_normalizer import NormalizedJpeg
from dermflow.imaging.lesion_mask import lesion_attention, lesion_mask_of_jpeg
from dermflow.imaging.model_input import ImagePathSettings, prepare_image
from dermflow.models.export_layout import read_export_image_path, read_exported_labels

SIGNATURE = "gradcam_images"


@dataclass(frozen=True)
class LesionPrediction:
    probabilities: np.ndarray  # float32 [C], in the model's label order; they sum to 1
    predicted_index: int
    predicted_label: str
    gradcam: np.ndarray  # float32 [h, w] in [0, 1], of the predicted class
    # docs/trust.md; None for a model exported without them (before calibration existed):
    in_scope_score: float | None = None  # in (0, 1]: share of held-out in-scope images at least this unusual
    out_of_scope: bool | None = None  # the image looks like none of the model's classes
    prediction_set: tuple[str, ...] | None = None  # labels that together cover the truth at the configured rate
    # Where the Grad-CAM lies against the lesion (dermflow.imaging.lesion_mask, the artefact check's mask);
    # None when no lesion mask was found:
    gradcam_in_lesion: float | None = None  # share of the Grad-CAM's mass inside the lesion mask, 0..1
    attention_off_lesion: bool | None = None  # the Grad-CAM's peak lies off the lesion: "look at this one"
    lesion_area: float | None = None  # share of the image the lesion mask covers

    @property
    def prediction_set_size(self) -> int | None:
        return None if self.prediction_set is None else len(self.prediction_set)


class LesionPredictor:
    """Exported model -> probabilities, predicted label and Grad-CAM for prepared image bytes."""

    def __init__(self, saved_model: Any, labels: Sequence[str], image_path: ImagePathSettings):
        if SIGNATURE not in saved_model.signatures:
            raise ValueError(f"the model has no {SIGNATURE!r} signature (it has {sorted(saved_model.signatures)})")
        self._signature = saved_model.signatures[SIGNATURE]
        self.labels = tuple(labels)
        self.image_path = image_path

    @classmethod
    def load(cls, saved_model_dir: str | Path, max_pixels: int) -> "LesionPredictor":
        import tensorflow as tf

        image_path = read_export_image_path(saved_model_dir, max_pixels)
        return cls(tf.saved_model.load(str(saved_model_dir)), read_exported_labels(saved_model_dir), image_path)

    def prepare(self, data: bytes) -> NormalizedJpeg:
        """File bytes (JPEG, PNG or DICOM) -> the JPEG the model reads; raises ImageRejected."""
        return prepare_image(data, self.image_path)

    def predict(self, images: Sequence[bytes], lesion_attention: bool = True) -> list[LesionPrediction]:
        """Prepared JPEG bytes (``prepare(...).data``), one model call for the whole batch.

        ``lesion_attention``: also the Grad-CAM's share inside the lesion mask of each image (about 2 ms an image).
        """
        if not images:
            return []
        import tensorflow as tf

        outputs = self._signature(images=tf.constant(list(images), dtype=tf.string))
        probabilities = outputs["probabilities"].numpy().astype(np.float32)
        predicted = outputs["predicted_index"].numpy()
        heatmaps = outputs["gradcam"].numpy().astype(np.float32)
        if probabilities.shape[1] != len(self.labels):
            raise ValueError(f"the model returned {probabilities.shape[1]} probabilities for {len(self.labels)} labels")
        in_scope = outputs["in_scope_score"].numpy() if "in_scope_score" in outputs else None
        flagged = outputs["out_of_scope"].numpy() if "out_of_scope" in outputs else None
        sets = outputs["prediction_set"].numpy() if "prediction_set" in outputs else None
        return [
            LesionPrediction(
                probabilities[i], int(predicted[i]), self.labels[int(predicted[i])], heatmaps[i],
                in_scope_score=None if in_scope is None else float(in_scope[i]),
                out_of_scope=None if flagged is None else bool(flagged[i]),
                prediction_set=None if sets is None else tuple(l for l, keep in zip(self.labels, sets[i]) if keep),
                **(attention_fields(images[i], heatmaps[i]) if lesion_attention else {}),
            )
            for i in range(len(images))
        ]


def attention_fields(prepared_jpeg: bytes, gradcam: np.ndarray) -> dict:
    """``gradcam_in_lesion``, ``attention_off_lesion``, ``lesion_area`` of one image (None each without a mask)."""
    attention = lesion_attention(gradcam, lesion_mask_of_jpeg(prepared_jpeg))
    if attention is None:
        return {}
    return {"gradcam_in_lesion": attention.mass_inside, "attention_off_lesion": not attention.peak_on_lesion,
            "lesion_area": attention.lesion_share}
