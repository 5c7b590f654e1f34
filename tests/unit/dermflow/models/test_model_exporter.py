import json

import numpy as np
import pytest
import tensorflow as tf
from model_test_utils import TINY_SIZE, calibrate_batchnorm, encode, random_pixels

from dermflow.config import DataConfig, ModelConfig
from dermflow.imaging.model_input import decode_and_resize
from dermflow.models import SIGNATURES, build_classifier, export_model, load_exported, load_keras_model
from dermflow.imaging.model_input import ImagePathSettings

IMAGE_PATH = ImagePathSettings.from_config(DataConfig())

LABELS = ["MEL", "NV", "BCC"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    built = build_classifier(ModelConfig(alpha=0.35, image_size=TINY_SIZE, weights="none"), len(LABELS))
    calibrate_batchnorm(built.model, random_pixels(8, seed=7))
    export_dir = tmp_path_factory.mktemp("export") / "serving_model"
    export_model(built, LABELS, export_dir, IMAGE_PATH)
    return built, export_dir, load_exported(export_dir)


@pytest.fixture(scope="module")
def encoded_images():
    """PNG and JPEG images of sizes other than the model's, as a scoring job would meet them."""
    rng = np.random.default_rng(3)
    shapes = [(40, 60), (48, 48), (90, 70), (33, 33)]
    return [encode(rng.integers(0, 256, (*shape, 3)), "PNG" if i % 2 else "JPEG") for i, shape in enumerate(shapes)]


def _model_probabilities(built, encoded_images):
    pixels = np.stack([decode_and_resize(tf.constant(data), TINY_SIZE).numpy() for data in encoded_images])
    return built.model.predict(pixels, verbose=0)


def _example(image: bytes) -> bytes:
    feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_all_four_signatures_are_exported(exported):
    _, _, loaded = exported
    assert set(loaded.signatures) == set(SIGNATURES)


def test_the_model_is_not_trivially_uniform(exported, encoded_images):
    built, _, _ = exported
    probabilities = _model_probabilities(built, encoded_images)
    assert np.ptp(probabilities, axis=0).max() > 1e-3


@pytest.mark.parametrize("signature", ["predict_images", "gradcam_images"])
def test_image_signatures_match_the_keras_model_on_the_same_pixels(exported, encoded_images, signature):
    built, _, loaded = exported
    outputs = loaded.signatures[signature](images=tf.constant(encoded_images))
    expected = _model_probabilities(built, encoded_images)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-4)
    np.testing.assert_array_equal(outputs["predicted_index"], expected.argmax(axis=1))
    assert outputs["predicted_index"].dtype == tf.int32


def test_serving_default_scores_serialized_examples(exported, encoded_images):
    built, _, loaded = exported
    examples = tf.constant([_example(image) for image in encoded_images])
    outputs = loaded.signatures["serving_default"](examples=examples)
    assert sorted(outputs) == ["in_scope_score", "out_of_scope", "out_of_scope_novel", "out_of_scope_other_diagnosis",
                              "prediction_set", "prediction_set_size", "probabilities"]  # no abstention outputs here
    # Exported without fitted trust values: temperature 1 (the Keras softmax), nothing flagged, full sets.
    np.testing.assert_allclose(outputs["probabilities"], _model_probabilities(built, encoded_images), atol=1e-4)
    assert not outputs["out_of_scope"].numpy().any()
    assert (outputs["prediction_set_size"].numpy() == len(LABELS)).all()


def test_gradcam_signatures_return_unit_range_heatmaps_of_the_last_conv_block(exported, encoded_images):
    built, _, loaded = exported
    outputs = loaded.signatures["gradcam_images"](images=tf.constant(encoded_images))
    side = built.model.get_layer("out_relu").output.shape[1]
    heatmap = outputs["gradcam"].numpy()
    assert heatmap.shape == (len(encoded_images), side, side)
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_gradcam_pixels_takes_uint8_pixels(exported):
    built, _, loaded = exported
    pixels = random_pixels(3, seed=5).astype(np.uint8)
    outputs = loaded.signatures["gradcam_pixels"](pixels=tf.constant(pixels))
    expected = built.model.predict(pixels.astype("float32"), verbose=0)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-4)
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)
    assert outputs["gradcam"].shape[0] == 3


def test_keras_file_beside_it_predicts_the_same_class(exported, encoded_images):
    built, export_dir, loaded = exported
    keras_model = load_keras_model(export_dir / "assets.extra" / "model.keras")
    pixels = np.stack([decode_and_resize(tf.constant(data), TINY_SIZE).numpy() for data in encoded_images])
    served = loaded.signatures["predict_images"](images=tf.constant(encoded_images))
    np.testing.assert_array_equal(keras_model.predict(pixels, verbose=0).argmax(axis=1), served["predicted_index"])


def test_labels_and_weights_provenance_are_written_beside_it(exported):
    _, export_dir, _ = exported
    assert (export_dir / "assets.extra" / "labels.txt").read_text().splitlines() == LABELS
    provenance = json.loads((export_dir / "assets.extra" / "weights_provenance.json").read_text())
    assert provenance["backbone"] == "mobilenet_v2"
    assert provenance["gradcam_layer"] == "out_relu"
    assert provenance["image_size"] == TINY_SIZE
    assert provenance["weights"]["source"].startswith("none")
    assert provenance["image_path"] == {
        "version": 2, "normalisation": "dermflow.imaging.model_input.prepare_image", "max_side": 512,
        "jpeg_quality": 90, "decoder": "tf.io.decode_image", "resize": "bilinear_antialias",
    }


def test_a_label_list_that_does_not_fit_the_model_is_refused(exported, tmp_path):
    built, _, _ = exported
    with pytest.raises(ValueError, match="2 labels"):
        export_model(built, LABELS[:2], tmp_path / "refused", IMAGE_PATH)
    assert not (tmp_path / "refused").exists()


def test_the_export_records_the_names_of_its_labels_and_an_older_export_falls_back_to_the_table(exported):
    from dermflow.models.export_layout import EXTRAS_DIR, LABEL_NAMES_FILE, read_exported_label_names

    _, export_dir, _ = exported
    recorded = json.loads((export_dir / EXTRAS_DIR / LABEL_NAMES_FILE).read_text())
    assert recorded["labels"] == LABELS and recorded["names"]["BCC"] == "basal cell carcinoma"
    assert read_exported_label_names(export_dir) == {"MEL": "melanoma", "NV": "melanocytic nevus", "BCC": "basal cell carcinoma"}
    (export_dir / EXTRAS_DIR / LABEL_NAMES_FILE).rename(export_dir / "labels.json.moved")
    try:
        assert read_exported_label_names(export_dir)["NV"] == "melanocytic nevus"  # no labels.json: ISIC's table
    finally:
        (export_dir / "labels.json.moved").rename(export_dir / EXTRAS_DIR / LABEL_NAMES_FILE)
