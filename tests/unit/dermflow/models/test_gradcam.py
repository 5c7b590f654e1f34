import keras
import numpy as np
import pytest
from model_test_utils import calibrate_batchnorm, coloured_square_images, random_pixels

from dermflow.config import ModelConfig
from dermflow.models import GradCam, backbone_layer_names, build_classifier, make_gradcam_fn, set_backbone_trainable

SIZE, SQUARE = 48, 10


@pytest.fixture(scope="module")
def calibrated_mobilenet():
    built = build_classifier(ModelConfig(alpha=0.35, image_size=64, weights="none"), 3)
    calibrate_batchnorm(built.model, random_pixels(8, 64))
    return built


@pytest.fixture(scope="module")
def square_model():
    """A small CNN that has learned which colour the square is (about 10 s on 2 cores)."""
    keras.utils.set_random_seed(0)
    built = build_classifier(ModelConfig(backbone="small_cnn", image_size=SIZE, weights="none", dropout=0.0), 3)
    set_backbone_trainable(built.model, len(backbone_layer_names(built.model)))
    built.model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    pixels, labels, _ = coloured_square_images(512, SIZE, SQUARE, seed=0)
    built.model.fit(pixels, labels, batch_size=32, epochs=3, verbose=0)
    return built


def test_outputs_probabilities_prediction_and_unit_range_heatmaps(calibrated_mobilenet):
    model = calibrated_mobilenet.model
    pixels = random_pixels(4, 64, seed=1)
    probabilities, predicted, heatmap = make_gradcam_fn(model, "out_relu")(pixels)
    np.testing.assert_allclose(probabilities, model.predict(pixels, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(predicted, np.argmax(probabilities, axis=1))
    assert predicted.dtype == "int32"
    assert heatmap.shape == (4, 2, 2) and heatmap.dtype == "float32"
    maxima = heatmap.numpy().reshape(4, -1).max(axis=1)
    assert heatmap.numpy().min() >= 0.0
    assert np.all((np.isclose(maxima, 1.0)) | (maxima == 0.0))


def test_heatmap_follows_the_layer_resolution(calibrated_mobilenet):
    _, _, heatmap = GradCam(calibrated_mobilenet.model, "block_13_expand_relu")(random_pixels(2, 64))
    assert heatmap.shape == (2, 4, 4)


def test_each_image_gets_its_own_heatmap_in_a_batch(square_model):
    pixels, _, _ = coloured_square_images(6, SIZE, SQUARE, seed=2)
    gradcam = make_gradcam_fn(square_model.model, square_model.gradcam_layer)
    _, _, together = gradcam(pixels)
    for index in range(len(pixels)):
        _, _, alone = gradcam(pixels[index : index + 1])
        np.testing.assert_allclose(together[index], alone[0], atol=1e-4)


def test_feature_maps_without_positive_evidence_give_an_all_zero_map_not_nan():
    pixels = keras.Input((16, 16, 3), name="pixels")
    dead = keras.layers.Conv2D(2, 3, kernel_initializer="zeros", name="dead_conv")(pixels)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU(name="dead_relu")(dead))
    model = keras.Model(pixels, keras.layers.Dense(3, activation="softmax", name="probabilities")(x))
    _, _, heatmap = GradCam(model, "dead_relu")(random_pixels(2, 16))
    np.testing.assert_array_equal(heatmap.numpy(), np.zeros((2, 14, 14), "float32"))


def test_heatmap_peaks_on_the_square_that_decides_the_class(square_model):
    pixels, labels, corners = coloured_square_images(64, SIZE, SQUARE, seed=1)
    _, predicted, heatmap = make_gradcam_fn(square_model.model, square_model.gradcam_layer)(pixels)
    assert np.mean(predicted.numpy() == labels) >= 0.9
    heatmap = heatmap.numpy()
    cell = SIZE / heatmap.shape[1]
    peaks = np.array([np.unravel_index(h.argmax(), h.shape) for h in heatmap])
    centres = (peaks + 0.5) * cell
    inside = np.all((centres >= corners - cell) & (centres <= corners + SQUARE + cell), axis=1)
    assert inside.mean() >= 0.8
