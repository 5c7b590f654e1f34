"""What the model said about one image, as the clinical writers read it: the Parquet row, re-typed.

    finding = ModelFinding.from_prediction_row(row, model_version)   # a row of schemas/scores_schema.py

The SR, the segmentation and the FHIR resources are built from this record, so they carry exactly
the probabilities of the Parquet row. It holds no identifying attribute: the writers read those
from the source when they write (docs/scoring.md#phi).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

import dermflow


@dataclass(frozen=True)
class ModelFinding:
    model_name: str
    model_version: str
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]  # in label order
    predicted_index: int
    in_scope_score: float | None
    out_of_scope: bool | None
    prediction_set: tuple[str, ...] | None
    gradcam: np.ndarray  # float32 [h, w] in [0, 1], on the model's square input
    sha256: str  # of the source file's bytes
    scored_at: datetime
    dermflow_version: str = dermflow.__version__

    @property
    def predicted_label(self) -> str:
        return self.labels[self.predicted_index]

    @property
    def predicted_probability(self) -> float:
        return self.probabilities[self.predicted_index]

    @classmethod
    def from_prediction_row(cls, row: dict, model_version: str) -> "ModelFinding":
        """From a predictions row (``probabilities`` as (label, p) pairs, ``gradcam`` flat + ``gradcam_shape``)."""
        pairs = [tuple(pair) for pair in row["probabilities"]]
        shape = [int(side) for side in row["gradcam_shape"]]
        scored_at = row.get("scored_at") or datetime.now(timezone.utc)
        return cls(
            model_name=row["model_name"], model_version=model_version,
            labels=tuple(label for label, _ in pairs), probabilities=tuple(float(p) for _, p in pairs),
            predicted_index=int(row["predicted_index"]),
            in_scope_score=None if row.get("in_scope_score") is None else float(row["in_scope_score"]),
            out_of_scope=None if row.get("out_of_scope") is None else bool(row["out_of_scope"]),
            prediction_set=None if row.get("prediction_set") is None else tuple(row["prediction_set"]),
            gradcam=np.asarray(row["gradcam"], dtype=np.float32).reshape(shape),
            sha256=row["sha256"], scored_at=scored_at,
        )


def read_prediction_rows(predictions_dir: str, model_version: str, sha256: set[str]) -> dict[str, dict]:
    """The latest predictions row of this model version for each of ``sha256`` (absent when there is none)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    from apache_beam.io.filesystems import FileSystems

    folder = FileSystems.join(predictions_dir, f"model_version={model_version}")
    files = [m.path for m in FileSystems.match([FileSystems.join(folder, "**.parquet")])[0].metadata_list]
    if not files or not sha256:
        return {}
    table = ds.dataset(files, format="parquet").to_table(filter=pc.field("sha256").isin(pa.array(sorted(sha256))))
    latest: dict[str, dict] = {}
    for row in table.to_pylist():
        if row["sha256"] not in latest or row["scored_at"] > latest[row["sha256"]]["scored_at"]:
            latest[row["sha256"]] = row
    return latest
