import io

import highdicom as hd
import numpy as np

from support.clinical_fixtures import MODEL_VERSION, SOURCE_UID, STUDY_UID, finding, source_header
from dermflow.clinical import clinical_uids
from dermflow.clinical.segmentation_writer import build_segmentation, heatmap_on_source_grid


def test_the_heatmap_is_mapped_onto_the_source_pixel_grid():
    heatmap = np.zeros((4, 4), np.float32)
    heatmap[0, 0] = 1.0
    mapped = heatmap_on_source_grid(heatmap, rows=30, columns=40)
    assert mapped.shape == (30, 40) and mapped.dtype == np.float32
    assert mapped[0, 0] > 0.9 and mapped[-1, -1] == 0.0 and 0.0 <= mapped.min() and mapped.max() <= 1.0


def test_a_fractional_segmentation_of_the_source_that_decodes():
    seg = build_segmentation(source_header(jpeg=True), finding())
    buffer = io.BytesIO()
    seg.save_as(buffer, enforce_file_format=True)
    back = hd.seg.segread(io.BytesIO(buffer.getvalue()))
    assert back.SegmentationType == "FRACTIONAL" and back.StudyInstanceUID == STUDY_UID and back.Modality == "SEG"
    assert back.SOPInstanceUID == clinical_uids.result_uid(SOURCE_UID, MODEL_VERSION, clinical_uids.SEGMENTATION)
    assert (back.Rows, back.Columns) == (30, 40) and "PatientOrientation" in back
    pixels = back.pixel_array
    assert pixels[0, 0] > 200 and pixels[-1, -1] == 0  # hot where the Grad-CAM is, on the source's grid
    referenced = {ref.ReferencedSOPInstanceUID for series in back.ReferencedSeriesSequence for ref in series.ReferencedInstanceSequence}
    assert referenced == {SOURCE_UID}
