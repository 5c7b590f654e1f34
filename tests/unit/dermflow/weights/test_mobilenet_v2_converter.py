import keras
import numpy as np
import pytest

from dermflow.weights.mobilenet_v2_converter import ConversionError, load_torchvision_weights


def _torchvision_state(seed=0):
    """A random state dict with torchvision MobileNetV2's names and shapes (OIHW kernels)."""
    rng = np.random.default_rng(seed)
    state = {}

    def conv(prefix, out_ch, in_ch, k):
        state[f"{prefix}.weight"] = rng.normal(size=(out_ch, in_ch, k, k)).astype(np.float32)

    def bn(prefix, ch):
        state[f"{prefix}.weight"] = rng.uniform(0.5, 1.5, ch).astype(np.float32)
        state[f"{prefix}.bias"] = rng.normal(size=ch).astype(np.float32)
        state[f"{prefix}.running_mean"] = rng.normal(size=ch).astype(np.float32)
        var = rng.uniform(0.01, 2.0, ch).astype(np.float32)
        var[0] = 1e-12  # such channels exist in the real checkpoint
        state[f"{prefix}.running_var"] = var
        state[f"{prefix}.num_batches_tracked"] = np.array(1, np.int64)

    conv("features.0.0", 32, 3, 3)
    bn("features.0.1", 32)
    conv("features.1.conv.0.0", 32, 1, 3)
    bn("features.1.conv.0.1", 32)
    conv("features.1.conv.1", 16, 32, 1)
    bn("features.1.conv.2", 16)
    settings = [(24, 2), (32, 3), (64, 4), (96, 3), (160, 3), (320, 1)]
    in_ch, index = 16, 2
    for out_ch, repeats in settings:
        for _ in range(repeats):
            hidden, prefix = in_ch * 6, f"features.{index}.conv"
            conv(f"{prefix}.0.0", hidden, in_ch, 1)
            bn(f"{prefix}.0.1", hidden)
            conv(f"{prefix}.1.0", hidden, 1, 3)
            bn(f"{prefix}.1.1", hidden)
            conv(f"{prefix}.2", out_ch, hidden, 1)
            bn(f"{prefix}.3", out_ch)
            in_ch, index = out_ch, index + 1
    conv("features.18.0", 1280, 320, 1)
    bn("features.18.1", 1280)
    state["classifier.1.weight"] = rng.normal(size=(1000, 1280)).astype(np.float32)
    state["classifier.1.bias"] = rng.normal(size=1000).astype(np.float32)
    return state


@pytest.fixture(scope="module")
def converted():
    state = _torchvision_state()
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=1.0, include_top=True, weights=None)
    load_torchvision_weights(model, state)
    return state, model


def test_conv_kernels_go_from_oihw_to_hwio(converted):
    state, model = converted
    torch_kernel = state["features.3.conv.0.0.weight"]
    keras_kernel = model.get_layer("block_2_expand").get_weights()[0]
    assert keras_kernel[0, 0, 5, 7] == torch_kernel[7, 5, 0, 0]
    first = model.get_layer("Conv1").get_weights()[0]
    assert first[2, 1, 0, 4] == state["features.0.0.weight"][4, 0, 2, 1]


def test_depthwise_kernels_keep_channels_on_the_third_axis(converted):
    state, model = converted
    keras_kernel = model.get_layer("block_16_depthwise").get_weights()[0]
    assert keras_kernel.shape == (3, 3, 960, 1)
    assert keras_kernel[1, 2, 33, 0] == state["features.17.conv.1.0.weight"][33, 0, 1, 2]


def test_classifier_is_transposed_into_predictions(converted):
    state, model = converted
    kernel, bias = model.get_layer("predictions").get_weights()
    np.testing.assert_array_equal(kernel, state["classifier.1.weight"].T)
    np.testing.assert_array_equal(bias, state["classifier.1.bias"])


def test_batchnorm_in_keras_computes_torch_inference_with_torch_epsilon(converted):
    state, model = converted
    layer = model.get_layer("block_5_project_BN")
    assert layer.epsilon == pytest.approx(1e-3)  # Keras's own model, unchanged
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 32)).astype(np.float32)
    keras_out = keras.ops.convert_to_numpy(layer(x, training=False))
    p = "features.6.conv.3"
    torch_out = (x - state[f"{p}.running_mean"]) / np.sqrt(state[f"{p}.running_var"] + 1e-5) * state[f"{p}.weight"] + state[f"{p}.bias"]
    np.testing.assert_allclose(keras_out, torch_out, rtol=1e-4, atol=1e-3)


def test_missing_keys_are_a_conversion_error():
    state = _torchvision_state()
    del state["features.9.conv.1.1.running_var"]
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=1.0, include_top=False, weights=None)
    with pytest.raises(ConversionError, match="features.9.conv.1.1.running_var"):
        load_torchvision_weights(model, state)


def test_other_widths_are_refused():
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)
    with pytest.raises(ConversionError, match="alpha 1.0"):
        load_torchvision_weights(model, _torchvision_state())
