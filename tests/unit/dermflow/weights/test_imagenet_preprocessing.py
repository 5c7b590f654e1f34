import keras
import numpy as np
import pytest

from dermflow.weights import ImageNetPreprocessing


def test_torch_mode_normalises_with_imagenet_mean_and_std():
    pixels = np.array([[[[0.0, 0.0, 0.0], [255.0, 255.0, 255.0], [123.675, 116.28, 103.53]]]], np.float32)
    out = keras.ops.convert_to_numpy(ImageNetPreprocessing("torch")(pixels))
    np.testing.assert_allclose(out[0, 0, 0], [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-5)
    np.testing.assert_allclose(out[0, 0, 1], [0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225], rtol=1e-5)
    np.testing.assert_allclose(out[0, 0, 2], [0.0, 0.0, 0.0], atol=1e-5)


def test_tf_mode_maps_to_minus_one_one():
    out = keras.ops.convert_to_numpy(ImageNetPreprocessing("tf")(np.array([[[[0.0, 127.5, 255.0]]]], np.float32)))
    np.testing.assert_allclose(out[0, 0, 0], [-1.0, 0.0, 1.0], atol=1e-6)


def test_caffe_mode_is_keras_vgg19_preprocessing():
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype(np.float32)
    out = keras.ops.convert_to_numpy(ImageNetPreprocessing("caffe")(pixels))
    np.testing.assert_allclose(out, keras.applications.vgg19.preprocess_input(pixels.copy()), atol=1e-4)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        ImageNetPreprocessing("inception")


def test_saved_model_file_carries_the_preprocessing(tmp_path):
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, ImageNetPreprocessing("tf")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    layer = [layer for layer in loaded.layers if isinstance(layer, ImageNetPreprocessing)][0]
    assert layer.mode == "tf"
    x = np.full((1, 4, 4, 3), 255.0, np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), np.ones((1, 4, 4, 3)), atol=1e-6)
