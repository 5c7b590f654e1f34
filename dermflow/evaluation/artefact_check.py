"""The artefact check: paste artefacts onto held-out images and measure how the model's answer moves.

    images = [CheckImage(image_id, label, prepared_jpeg, lesion_mask=None), ...]   # the Evaluator's split
    measured = measure_artefacts(images, predict, prepare, CheckSettings(kinds=("ruler", "ink"), seed=0))
    report = summarise(measured, labels, max_flip_rate=0.05)       # artefact_summary: figures + the gate

Every image goes through the one image path as a file would: its ingested JPEG is decoded, the
artefact painted on (``dermflow.artefacts``), the result written as a PNG and passed to ``prepare``
(``prepare_image`` with the model's recorded settings), then to ``predict`` (the model's
``gradcam_images`` signature: in-graph decode and resize). The *control* is the same image through
the same steps with nothing painted, so the re-encoding is not counted as the artefact's effect; the
original bytes are scored too (``reencoded`` flips: control against what the Evaluator scored).

The lesion mask is the archive's own when given (synthetic archives), else
:func:`dermflow.imaging.lesion_mask.lesion_mask` (Otsu); painters that spare the lesion leave its
pixels untouched, and the Grad-CAM mass inside it is measured before (control) and after.
"""
from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from dermflow.artefacts import painter_for
from dermflow.imaging import encode_png
from dermflow.imaging.lesion_mask import lesion_attention, lesion_mask_of_jpeg, resize_mask

ORIGINAL, CONTROL = "original", "control"


@dataclass(frozen=True)
class CheckImage:
    image_id: str
    label: int  # index into the model's labels
    jpeg: bytes  # the prepared JPEG as ingested: what the Evaluator scored
    lesion_mask: np.ndarray | None = None  # bool, any size: the archive's own mask; None: Otsu


@dataclass(frozen=True)
class ModelOutputs:
    probabilities: np.ndarray  # float32 [N, C]
    gradcam: np.ndarray  # float32 [N, h, w], of the predicted class


Predict = Callable[[list[bytes]], ModelOutputs]  # prepared JPEG bytes -> outputs (one model call per batch)
Prepare = Callable[[bytes], bytes]  # file bytes -> the prepared JPEG (the one image path's first half)


@dataclass(frozen=True)
class CheckSettings:
    kinds: tuple[str, ...]
    seed: int = 0
    batch_size: int = 32


@dataclass
class Measurements:
    """Per image (axis 0) and variant (axis 1: original, control, then ``kinds``)."""

    kinds: tuple[str, ...]
    image_ids: list[str]
    labels: np.ndarray  # int [N]
    probabilities: np.ndarray  # float32 [N, V, C]
    gradcam: np.ndarray  # float32 [N, V, h, w]
    lesion_mass: np.ndarray  # float32 [N, V], NaN where there is no mask
    mask_source: list[str]  # per image: "archive", "otsu" or "none"

    @property
    def variants(self) -> tuple[str, ...]:
        return (ORIGINAL, CONTROL, *self.kinds)

    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=-1)


def decode_pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB"))


def image_mask(image: CheckImage, pixels: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The archive's mask, else Otsu's on the prepared JPEG (as scoring takes it), scaled to the pixels; and its source."""
    if image.lesion_mask is not None:
        return resize_mask(image.lesion_mask, pixels.shape[:2]), "archive"
    found = lesion_mask_of_jpeg(image.jpeg)
    return (None, "none") if found is None else (resize_mask(found, pixels.shape[:2]), "otsu")


def artefact_seed(seed: int, image_id: str, kind: str) -> int:
    """Each image and kind its own artefact, whatever the order of the images."""
    return int(np.random.default_rng([seed, zlib.crc32(image_id.encode()), zlib.crc32(kind.encode())]).integers(2**31))


def painted_variants(pixels: np.ndarray, mask: np.ndarray | None, image_id: str, settings: CheckSettings) -> list[np.ndarray]:
    """[control (unpainted), one painted image per kind]."""
    return [pixels] + [painter_for(kind)(pixels, mask, seed=artefact_seed(settings.seed, image_id, kind))
                       for kind in settings.kinds]


def measure_artefacts(images: Sequence[CheckImage], predict: Predict, prepare: Prepare, settings: CheckSettings) -> Measurements:
    """Scores every image as ingested, re-encoded (control) and with each artefact; the Grad-CAM mass in its lesion."""
    rows_probabilities, rows_cams, rows_mass, sources = [], [], [], []
    for start in range(0, len(images), max(1, settings.batch_size // (len(settings.kinds) + 2))):
        chunk = images[start:start + max(1, settings.batch_size // (len(settings.kinds) + 2))]
        inputs, masks = [], []
        for image in chunk:
            pixels = decode_pixels(image.jpeg)
            mask, source = image_mask(image, pixels)
            masks.append(mask)
            sources.append(source)
            inputs.append(image.jpeg)
            inputs.extend(prepare(encode_png(variant)) for variant in painted_variants(pixels, mask, image.image_id, settings))
        outputs = _predict_in_batches(predict, inputs, settings.batch_size)
        variants = len(settings.kinds) + 2
        for position, mask in enumerate(masks):
            rows = slice(position * variants, (position + 1) * variants)
            rows_probabilities.append(outputs.probabilities[rows])
            rows_cams.append(outputs.gradcam[rows])
            rows_mass.append([_mass(cam, mask) for cam in outputs.gradcam[rows]])
    count = len(images)
    return Measurements(
        kinds=tuple(settings.kinds),
        image_ids=[image.image_id for image in images],
        labels=np.array([image.label for image in images], dtype=np.int64),
        probabilities=np.array(rows_probabilities, dtype=np.float32).reshape(count, len(settings.kinds) + 2, -1),
        gradcam=np.array(rows_cams, dtype=np.float32) if count else np.zeros((0, len(settings.kinds) + 2, 1, 1), np.float32),
        lesion_mass=np.array(rows_mass, dtype=np.float32).reshape(count, len(settings.kinds) + 2),
        mask_source=sources,
    )


def _mass(cam: np.ndarray, mask: np.ndarray | None) -> float:
    attention = lesion_attention(cam, mask)
    return float("nan") if attention is None else attention.mass_inside


def _predict_in_batches(predict: Predict, inputs: list[bytes], batch_size: int) -> ModelOutputs:
    probabilities, cams = [], []
    for start in range(0, len(inputs), batch_size):
        outputs = predict(inputs[start:start + batch_size])
        probabilities.append(np.asarray(outputs.probabilities, dtype=np.float32))
        cams.append(np.asarray(outputs.gradcam, dtype=np.float32))
    return ModelOutputs(np.concatenate(probabilities), np.concatenate(cams))


def example_pictures(image: CheckImage, kind: str, settings: CheckSettings) -> tuple[np.ndarray, np.ndarray]:
    """(clean pixels, painted pixels) of one image and kind: the same drawing ``measure_artefacts`` scored."""
    pixels = decode_pixels(image.jpeg)
    mask, _ = image_mask(image, pixels)
    painted = painter_for(kind)(pixels, mask, seed=artefact_seed(settings.seed, image.image_id, kind))
    return pixels, painted


def choose_examples(measured: Measurements) -> dict[str, int]:
    """Per kind, the image whose answer moved most: a changed label first, then the largest drop of the control's label."""
    predicted = measured.predicted()
    chosen = {}
    for offset, kind in enumerate(measured.kinds):
        if not len(measured.labels):
            break
        variant = offset + 2
        control = predicted[:, 1]
        flipped = predicted[:, variant] != control
        rows = np.arange(len(control))
        drop = measured.probabilities[rows, 1, control] - measured.probabilities[rows, variant, control]
        chosen[kind] = int(np.lexsort((-drop, ~flipped))[0])
    return chosen
