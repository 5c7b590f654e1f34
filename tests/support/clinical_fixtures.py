"""A DICOM source header and a model finding, as the clinical writers get them."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import numpy as np
import pydicom

from dermflow.clinical.model_finding import ModelFinding
from dermflow.imaging.dicom_reader import encode_dicom

PATIENT_NAME = "Madeup^Perpetua^Zz"
PATIENT_ID = "PID-0042-UNIT"
SOURCE_UID = "1.2.826.0.1.3680043.8.498.424242"
STUDY_UID = "1.2.826.0.1.3680043.8.498.777"
MODEL_VERSION = "20260101T000000Z"


def source_header(jpeg: bool = False, rows: int = 30, columns: int = 40):
    pixels = np.zeros((rows, columns, 3), np.uint8)
    data = encode_dicom(pixels, SOURCE_UID, {
        "PatientName": PATIENT_NAME, "PatientID": PATIENT_ID, "StudyInstanceUID": STUDY_UID,
        "StudyDate": "20260105", "AccessionNumber": "ACC-1",
    }, jpeg_quality=90 if jpeg else None)
    return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)


def finding(model_version: str = MODEL_VERSION, probabilities=(0.7, 0.2, 0.1), prediction_set=("MEL", "NV")) -> ModelFinding:
    heatmap = np.zeros((4, 4), np.float32)
    heatmap[0, 0] = 1.0  # hot in the top-left corner
    return ModelFinding(
        model_name="dermflow_test", model_version=model_version, labels=("MEL", "NV", "BCC"),
        probabilities=tuple(probabilities), predicted_index=int(np.argmax(probabilities)), in_scope_score=0.8,
        out_of_scope=False, prediction_set=prediction_set, gradcam=heatmap, sha256="ab" * 32,
        scored_at=datetime(2026, 1, 6, 12, 0, tzinfo=timezone.utc),
    )
