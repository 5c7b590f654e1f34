import keras
import numpy as np
import pytest
from model_test_utils import calibrate_batchnorm, random_pixels

from dermflow.config import ModelConfig
from dermflow.models import (
    backbone_layer_names,
    build_classifier,
    load_keras_model,
    make_gradcam_fn,
    set_backbone_trainable,
)
from dermflow.weights.backbone_weights import WeightsNotFoundError


@pytest.fixture
def built(tiny_model_cfg):
    return build_classifier(tiny_model_cfg, num_classes=3)


def _trainable_backbone_layers(model):
    return [name for name in backbone_layer_names(model) if model.get_layer(name).trainable_weights]


def test_outputs_one_probability_row_per_image(built):
    probabilities = built.model.predict(random_pixels(5), verbose=0)
    assert probabilities.shape == (5, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_graph_has_the_contracted_names(built):
    model = built.model
    assert model.input.name == "pixels"
    assert model.input_shape == (None, 48, 48, 3)
    assert model.layers[-1].name == "probabilities"
    assert isinstance(model.layers[-1], keras.layers.Dense)
    assert built.gradcam_layer == "out_relu"
    assert len(model.get_layer(built.gradcam_layer).output.shape) == 4
    assert built.weights.path is None


def test_config_can_name_another_gradcam_layer(tiny_model_cfg):
    tiny_model_cfg.gradcam_layer = "block_16_project"
    assert build_classifier(tiny_model_cfg, 3).gradcam_layer == "block_16_project"


def test_a_gradcam_layer_that_does_not_exist_is_an_error(tiny_model_cfg):
    tiny_model_cfg.gradcam_layer = "no_such_layer"
    with pytest.raises(ValueError, match="no_such_layer"):
        build_classifier(tiny_model_cfg, 3)


def test_backbone_layers_exclude_input_preprocessing_and_head(built):
    names = backbone_layer_names(built.model)
    assert names[0] == "Conv1" and names[-1] == "out_relu"
    assert not {"pixels", "preprocessing", "head_pool", "head_dropout", "probabilities"} & set(names)


def test_the_backbone_starts_frozen_and_the_head_trains(built):
    assert _trainable_backbone_layers(built.model) == []
    assert [w.path for w in built.model.trainable_weights] == ["probabilities/kernel", "probabilities/bias"]


def test_unfreezing_top_layers_unfreezes_exactly_those_except_batchnorm(built):
    model = built.model
    set_backbone_trainable(model, 10)
    top = backbone_layer_names(model)[-10:]
    expected = [name for name in top if not isinstance(model.get_layer(name), keras.layers.BatchNormalization)]
    assert expected and len(expected) < 10
    assert _trainable_backbone_layers(model) == [n for n in expected if model.get_layer(n).weights]
    assert all(not model.get_layer(n).trainable for n in top if n not in expected)
    assert model.get_layer("probabilities").trainable


def test_all_unfreezes_every_backbone_layer_with_weights_except_batchnorm(built):
    model = built.model
    set_backbone_trainable(model, "all")
    expected = [
        name for name in backbone_layer_names(model)
        if model.get_layer(name).weights and not isinstance(model.get_layer(name), keras.layers.BatchNormalization)
    ]
    assert expected[0] == "Conv1"
    assert _trainable_backbone_layers(model) == expected


@pytest.mark.parametrize("top_layers", [None, 0])
def test_refreezing_freezes_the_whole_backbone_again(built, top_layers):
    set_backbone_trainable(built.model, 10)
    set_backbone_trainable(built.model, top_layers)
    assert _trainable_backbone_layers(built.model) == []


def test_imagenet_weights_that_are_not_installed_are_an_error_not_random_weights(tmp_path):
    cfg = ModelConfig(alpha=0.35, image_size=48, weights="imagenet")
    with pytest.raises(WeightsNotFoundError):
        build_classifier(cfg, 3, keras_home=tmp_path)


def test_small_cnn_refuses_pretrained_weights():
    with pytest.raises(WeightsNotFoundError, match="small_cnn"):
        build_classifier(ModelConfig(backbone="small_cnn", image_size=32, weights="imagenet"), 3)


def test_keras_file_reloads_as_the_same_model(built, tmp_path):
    pixels = random_pixels(4)
    calibrate_batchnorm(built.model, pixels)
    built.model.save(tmp_path / "model.keras")
    reloaded = load_keras_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(pixels, verbose=0), built.model.predict(pixels, verbose=0), atol=1e-5)
    assert backbone_layer_names(reloaded) == backbone_layer_names(built.model)


def test_mixed_precision_keeps_probabilities_and_gradcam_in_float32(tiny_model_cfg):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        built = build_classifier(tiny_model_cfg, 3)
        assert built.model.get_layer("out_relu").compute_dtype == "float16"
        probabilities, predicted, heatmap = make_gradcam_fn(built.model, built.gradcam_layer)(random_pixels(2))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert built.model.output.dtype == "float32"
    assert probabilities.dtype == "float32" and heatmap.dtype == "float32"
    np.testing.assert_allclose(probabilities.numpy().sum(axis=1), 1.0, atol=1e-3)


def test_imagenet_weights_load_into_the_inlined_backbone():
    cfg = ModelConfig(alpha=1.0, image_size=65, weights="imagenet")  # 65 px loads the 224 px file
    try:
        built = build_classifier(cfg, 3)
    except WeightsNotFoundError as missing:
        pytest.skip(f"ImageNet MobileNetV2 weights are not installed here: {missing}")
    from dermflow.weights.imagenet_preprocessing import ImageNetPreprocessing

    reference = keras.applications.MobileNetV2(
        input_shape=(65, 65, 3), include_top=False, weights=str(built.weights.path), alpha=1.0
    )
    pixels = random_pixels(2, 65)
    expected = reference.predict(ImageNetPreprocessing(built.weights.preprocessing)(pixels), verbose=0)
    features = keras.Model(built.model.input, built.model.get_layer("out_relu").output)
    np.testing.assert_allclose(features.predict(pixels, verbose=0), expected, atol=1e-4)
    assert built.weights.provenance
