"""A RunInference ModelHandler for the exported SavedModel's ``gradcam_pixels`` signature.

Beam's ``TFModelHandlerTensor`` loads models with ``tf.keras.models.load_model``, which Keras 3
cannot do for a SavedModel directory, and it returns one output; this handler loads the
SavedModel with ``tf.saved_model.load`` (once per worker process: RunInference shares the
loaded model between the DoFn instances of a process) and returns all three outputs.

    handler = KeyedModelHandler(GradcamModelHandler(saved_model_dir, min_batch_size=1, max_batch_size=32))
    keyed_pixels | RunInference(handler)   # -> (key, PredictionResult(pixels, GradcamInference))
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

SIGNATURE = "gradcam_pixels"


class GradcamInference(NamedTuple):
    probabilities: np.ndarray  # float32 [C]
    predicted_index: int
    gradcam: np.ndarray  # float32 [h, w] in [0, 1]


class GradcamModelHandler(ModelHandler[np.ndarray, PredictionResult, Any]):
    """uint8 pixels [S, S, 3] -> PredictionResult(example=pixels, inference=GradcamInference)."""

    def __init__(self, saved_model_dir: str, *, min_batch_size: int | None = None, max_batch_size: int | None = None,
                 signature: str = SIGNATURE, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size, **kwargs)
        self._saved_model_dir = str(saved_model_dir)
        self._signature = signature

    def load_model(self) -> Any:
        import tensorflow as tf

        loaded = tf.saved_model.load(self._saved_model_dir)
        if self._signature not in loaded.signatures:
            raise ValueError(
                f"{self._saved_model_dir} has no {self._signature!r} signature (it has {sorted(loaded.signatures)}); "
                "export it with dermflow.models.export_model"
            )
        return loaded

    def run_inference(self, batch: Sequence[np.ndarray], model: Any,
                      inference_args: dict[str, Any] | None = None) -> Iterable[PredictionResult]:
        import tensorflow as tf

        outputs = model.signatures[self._signature](pixels=tf.constant(np.stack(batch), dtype=tf.uint8))
        probabilities = outputs["probabilities"].numpy().astype(np.float32)
        predicted = outputs["predicted_index"].numpy()
        heatmaps = outputs["gradcam"].numpy().astype(np.float32)
        return [
            PredictionResult(pixels, GradcamInference(probabilities[i], int(predicted[i]), heatmaps[i]))
            for i, pixels in enumerate(batch)
        ]

    def get_num_bytes(self, batch: Sequence[np.ndarray]) -> int:
        return sum(pixels.nbytes for pixels in batch)

    def get_metrics_namespace(self) -> str:
        return "dermflow.scoring.RunInference"
