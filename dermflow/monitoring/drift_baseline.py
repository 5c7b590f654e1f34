"""The model's drift baseline: its held-out images through scoring's own path, recorded at export.

    baseline = record_drift_baseline(export_dir, held_out_images, split="test")   # after export_model(...)
    baseline = read_drift_baseline(saved_model_dir)    # DriftBaseline, or None for a model exported without one

One row per held-out image, with the predictions Parquet's monitored columns (``drift_settings``):
``width``, ``height`` and ``format`` of the source file, brightness and colour of the bytes
``prepare_image`` made of it (what ingest stored in the tf.Example), and what the exported model says
of those bytes through :class:`~dermflow.inference.lesion_predictor.LesionPredictor`, the predictor
batch scoring calls. Written to ``<export>/assets.extra/drift_baseline.pq``, so it travels with the
SavedModel into the registry. Its schema metadata names the split (``test``, or ``eval`` when ingest
made no test split) and a note saying why.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from dermflow.config import DEFAULT_MAX_IMAGE_PIXELS
from dermflow.imaging.colour_statistics import colour_statistics
from dermflow.inference.lesion_predictor import LesionPrediction, LesionPredictor
from dermflow.models.export_layout import DRIFT_BASELINE_FILE, EXTRAS_DIR
from dermflow.monitoring.drift_features import FEATURE_COLUMNS
from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA

BASELINE_SCHEMA = pa.schema([PREDICTIONS_SCHEMA.field(name).with_nullable(True) for name in FEATURE_COLUMNS])
_META = b"dermflow.drift_baseline"


@dataclass(frozen=True)
class HeldOutImage:
    """One held-out image as ingest stored it."""

    image: bytes  # what prepare_image made of the source (the tf.Example's ``image``)
    width: int | None  # of the source; None when the examples do not say
    height: int | None
    format: str | None  # of the source (jpeg, png, dicom); None when the examples do not say


@dataclass(frozen=True)
class DriftBaseline:
    table: pa.Table  # BASELINE_SCHEMA
    split: str  # test, or eval
    note: str  # for people, e.g. why it is the eval split

    @property
    def images(self) -> int:
        return self.table.num_rows


def baseline_row(image: HeldOutImage, prediction: LesionPrediction) -> dict:
    return {
        "width": image.width, "height": image.height, "format": image.format,
        **colour_statistics(image.image).as_columns(),
        "predicted_label": prediction.predicted_label,
        "predicted_probability": float(prediction.probabilities[prediction.predicted_index]),
        "in_scope_score": prediction.in_scope_score,
        "out_of_scope": prediction.out_of_scope,
        "prediction_set_size": prediction.prediction_set_size,
    }


def _batches(images: Iterable[HeldOutImage], size: int) -> Iterator[list[HeldOutImage]]:
    batch: list[HeldOutImage] = []
    for image in images:
        batch.append(image)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def baseline_table(predictor: LesionPredictor, images: Iterable[HeldOutImage], batch_size: int = 32) -> pa.Table:
    rows = []
    for batch in _batches(images, batch_size):
        rows += [baseline_row(image, p) for image, p in zip(batch, predictor.predict([i.image for i in batch]))]
    return pa.Table.from_pylist(rows, schema=BASELINE_SCHEMA)


def record_drift_baseline(export_dir: str | Path, images: Iterable[HeldOutImage], split: str, note: str = "",
                          batch_size: int = 32) -> DriftBaseline:
    """Scores ``images`` with the model exported in ``export_dir`` and writes its baseline there."""
    predictor = LesionPredictor.load(export_dir, DEFAULT_MAX_IMAGE_PIXELS)
    baseline = DriftBaseline(baseline_table(predictor, images, batch_size), split, note)
    if baseline.images:  # no held-out image: no baseline, and scoring runs say so
        write_drift_baseline(export_dir, baseline)
    return baseline


def write_drift_baseline(export_dir: str | Path, baseline: DriftBaseline) -> Path:
    record = {"split": baseline.split, "note": baseline.note, "images": baseline.images,
              "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    table = baseline.table.replace_schema_metadata({_META: json.dumps(record).encode("utf-8")})
    path = Path(export_dir) / EXTRAS_DIR / DRIFT_BASELINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def read_drift_baseline(saved_model_dir: str | Path) -> DriftBaseline | None:
    """The baseline exported with the model; None for a model exported without one."""
    path = Path(saved_model_dir) / EXTRAS_DIR / DRIFT_BASELINE_FILE
    if not path.is_file():
        return None
    table = pq.read_table(path)
    record = json.loads((table.schema.metadata or {}).get(_META, b"{}"))
    return DriftBaseline(table.replace_schema_metadata(None), str(record.get("split") or "unknown"),
                         str(record.get("note") or ""))
