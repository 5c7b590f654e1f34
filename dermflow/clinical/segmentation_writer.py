"""The Grad-CAM of one DICOM image as a fractional DICOM Segmentation on the source's pixel grid, by highdicom.

    seg = build_segmentation(source_header, finding)     # a highdicom Segmentation (a pydicom Dataset)

Why a Segmentation and not a Parametric Map: the Parametric Map IOD needs a Frame of Reference, which
VL Photographic images lack, so validators refuse it; a FRACTIONAL segmentation (PROBABILITY, 0..255)
of one segment needs none. The heatmap is computed on the model's square input, which is the whole
source image resized without keeping its aspect ratio, so it maps back onto the source's Rows x Columns
by one bilinear resize. The pixel data is JPEG-LS lossless (highdicom's ``pyjpegls``): a smooth
heatmap compresses to a few kilobytes. Same study, own series; the SOP Instance UID derives from
(source SOP Instance UID, model version).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from dermflow.clinical import clinical_uids, snomed_codes as codes
from dermflow.clinical.model_finding import ModelFinding
from dermflow.clinical.sr_writer import MANUFACTURER, evidence_header, private_coding_scheme

SEGMENTATION_SERIES_NUMBER = 9902
SEGMENTATION_SERIES_DESCRIPTION = "dermflow Grad-CAM (research use only)"
MAX_FRACTIONAL_VALUE = 255


def heatmap_on_source_grid(heatmap: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """A [h, w] map in [0, 1] -> float32 [rows, columns] in [0, 1] (bilinear; the model's square is the whole image)."""
    from PIL import Image

    image = Image.fromarray(np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0), mode="F")
    return np.clip(np.asarray(image.resize((int(columns), int(rows)), Image.BILINEAR), dtype=np.float32), 0.0, 1.0)


def build_segmentation(source: Any, finding: ModelFinding):
    """``source``: the source image's header (pydicom Dataset; its pixels are not needed)."""
    import highdicom as hd
    from pydicom.uid import JPEGLSLossless

    header = evidence_header(source)
    heatmap = heatmap_on_source_grid(finding.gradcam, int(header.Rows), int(header.Columns))
    algorithm = hd.AlgorithmIdentificationSequence(
        name=finding.model_name, family=codes.ARTIFICIAL_INTELLIGENCE.highdicom(), version=finding.model_version,
        source=MANUFACTURER, parameters={"dermflow": finding.dermflow_version, "map": "Grad-CAM"},
    )
    segment = hd.seg.SegmentDescription(
        segment_number=1, segment_label=f"Grad-CAM {finding.predicted_label}"[:64],
        segmented_property_category=codes.MORPHOLOGICALLY_ABNORMAL_STRUCTURE.highdicom(),
        segmented_property_type=codes.finding_concept(finding.predicted_label).highdicom(),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm,
    )
    segmentation = hd.seg.Segmentation(
        source_images=[header], pixel_array=heatmap,
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL, segment_descriptions=[segment],
        series_instance_uid=clinical_uids.result_series_uid(header.StudyInstanceUID, finding.model_version,
                                                            clinical_uids.SEGMENTATION_SERIES),
        series_number=SEGMENTATION_SERIES_NUMBER,
        sop_instance_uid=clinical_uids.result_uid(header.SOPInstanceUID, finding.model_version,
                                                  clinical_uids.SEGMENTATION),
        instance_number=1, manufacturer=MANUFACTURER, manufacturer_model_name=finding.model_name,
        software_versions=[f"dermflow {finding.dermflow_version}", finding.model_version], device_serial_number=finding.model_version,
        fractional_type=hd.seg.SegmentationFractionalTypeValues.PROBABILITY, max_fractional_value=MAX_FRACTIONAL_VALUE,
        content_description="Grad-CAM of the predicted class (research use only)", content_label="GRADCAM",
        series_description=SEGMENTATION_SERIES_DESCRIPTION, content_qualification="RESEARCH",
        transfer_syntax_uid=JPEGLSLossless, omit_empty_frames=False, coding_schemes=[private_coding_scheme()],
    )
    if "PatientOrientation" not in segmentation:  # Type 2C without a Frame of Reference (VL Photographic sources)
        segmentation.PatientOrientation = header.get("PatientOrientation", "")
    return segmentation
