"""A RunInference ModelHandler: a thin adapter over :class:`dermflow.inference.lesion_predictor.LesionPredictor`.

The predictor is loaded once per worker process (RunInference shares it between the DoFn
instances of a process); each batch of prepared JPEG bytes is one call of the model's
``gradcam_images`` signature.

    handler = KeyedModelHandler(GradcamModelHandler(saved_model_dir, max_pixels, min_batch_size=1, max_batch_size=32))
    keyed_jpegs | RunInference(handler)   # -> (key, PredictionResult(jpeg bytes, LesionPrediction))
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from dermflow.inference.lesion_predictor import LesionPredictor


class GradcamModelHandler(ModelHandler[bytes, PredictionResult, LesionPredictor]):
    """Prepared JPEG bytes -> PredictionResult(example=bytes, inference=LesionPrediction)."""

    def __init__(self, saved_model_dir: str, max_pixels: int, *, min_batch_size: int | None = None,
                 max_batch_size: int | None = None, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size, **kwargs)
        self._saved_model_dir = str(saved_model_dir)
        self._max_pixels = max_pixels

    def load_model(self) -> LesionPredictor:
        return LesionPredictor.load(self._saved_model_dir, self._max_pixels)

    def run_inference(self, batch: Sequence[bytes], model: LesionPredictor,
                      inference_args: dict[str, Any] | None = None) -> Iterable[PredictionResult]:
        return [PredictionResult(image, prediction) for image, prediction in zip(batch, model.predict(batch))]

    def get_num_bytes(self, batch: Sequence[bytes]) -> int:
        return sum(len(image) for image in batch)

    def get_metrics_namespace(self) -> str:
        return "dermflow.scoring.RunInference"
