"""The one predictor: prepared bytes in, the model's own answer out; old exports refused by name."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dermflow.config import DEFAULT_MAX_IMAGE_PIXELS, DataConfig, ModelConfig
from dermflow.imaging import ImageRejected, RejectReason
from dermflow.imaging.model_input import ImagePathSettings, LegacyImagePathError, prepare_image
from dermflow.inference.lesion_predictor import LesionPredictor
from dermflow.models import build_classifier, export_model
from dermflow.models.export_layout import EXTRAS_DIR, PROVENANCE_FILE, read_export_image_path

LABELS = ["MEL", "NV", "BCC"]
IMAGE_PATH = ImagePathSettings(max_side=64, jpeg_quality=85, max_pixels=DEFAULT_MAX_IMAGE_PIXELS)


def _jpeg(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    built = build_classifier(ModelConfig(backbone="small_cnn", image_size=32, weights="none"), len(LABELS))
    export_dir = tmp_path_factory.mktemp("export") / "model"
    export_model(built, LABELS, export_dir, IMAGE_PATH)
    return export_dir


def test_the_predictor_prepares_files_with_the_settings_recorded_in_the_model(export_dir):
    predictor = LesionPredictor.load(export_dir, max_pixels=10_000_000)
    assert predictor.labels == tuple(LABELS)
    assert (predictor.image_path.max_side, predictor.image_path.jpeg_quality) == (64, 85)
    assert predictor.image_path.max_pixels == 10_000_000  # the caller's own safety limit
    data = _jpeg(200, 150, seed=1)
    assert predictor.prepare(data).data == prepare_image(data, ImagePathSettings(64, 85, 10_000_000)).data


def test_predictions_are_the_gradcam_images_signature_on_the_prepared_bytes(export_dir):
    predictor = LesionPredictor.load(export_dir, max_pixels=DEFAULT_MAX_IMAGE_PIXELS)
    prepared = [predictor.prepare(_jpeg(120 + 10 * i, 90, seed=i)).data for i in range(5)]
    predictions = predictor.predict(prepared)
    outputs = tf.saved_model.load(str(export_dir)).signatures["gradcam_images"](images=tf.constant(prepared))
    np.testing.assert_allclose([p.probabilities for p in predictions], outputs["probabilities"].numpy(), atol=1e-6)
    assert [p.predicted_label for p in predictions] == [LABELS[i] for i in outputs["predicted_index"].numpy()]
    assert all(p.gradcam.ndim == 2 and 0.0 <= p.gradcam.min() <= p.gradcam.max() <= 1.0 for p in predictions)
    assert all(p.other_diagnosis_probability is None for p in predictions)  # no abstention outputs
    assert predictor.predict([]) == []


def test_a_model_with_abstention_outputs_gives_the_other_diagnosis_probability_and_each_flag_its_reason(tmp_path):
    built = build_classifier(ModelConfig(backbone="small_cnn", image_size=32, weights="none"), len(LABELS),
                             abstention_codes=("BKL", "DF"))
    export_model(built, LABELS, tmp_path / "model", IMAGE_PATH)  # no trust fitted: nothing flagged
    predictor = LesionPredictor.load(tmp_path / "model", max_pixels=DEFAULT_MAX_IMAGE_PIXELS)
    predictions = predictor.predict([predictor.prepare(_jpeg(100, 80, seed=i)).data for i in range(3)])
    for prediction in predictions:
        assert prediction.probabilities.shape == (3,) and prediction.predicted_label in LABELS
        assert 0.0 < prediction.other_diagnosis_probability < 1.0
        assert prediction.out_of_scope is False and prediction.out_of_scope_reason is None


def test_a_bad_file_is_rejected_with_its_reason(export_dir):
    predictor = LesionPredictor.load(export_dir, max_pixels=DEFAULT_MAX_IMAGE_PIXELS)
    with pytest.raises(ImageRejected) as rejected:
        predictor.prepare(b"%PDF-1.7 not an image")
    assert rejected.value.reason is RejectReason.NOT_AN_IMAGE


def test_a_model_exported_without_an_image_path_record_is_refused(export_dir, tmp_path):
    legacy = tmp_path / "legacy"
    (legacy / EXTRAS_DIR).mkdir(parents=True)
    provenance = json.loads((export_dir / EXTRAS_DIR / PROVENANCE_FILE).read_text())
    del provenance["image_path"]
    (legacy / EXTRAS_DIR / PROVENANCE_FILE).write_text(json.dumps(provenance))
    with pytest.raises(LegacyImagePathError, match="Retrain it"):
        read_export_image_path(legacy, DEFAULT_MAX_IMAGE_PIXELS)
    assert read_export_image_path(export_dir, 5).max_side == 64


def test_the_record_round_trips_through_provenance():
    settings = ImagePathSettings.from_config(DataConfig(max_side=300, jpeg_quality=77))
    assert ImagePathSettings.from_provenance(settings.provenance(), settings.max_pixels) == settings
