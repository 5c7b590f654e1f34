"""torchvision's MobileNetV2 state dict -> Keras's ``keras.applications.MobileNetV2`` (alpha 1.0), layer by layer.

The two networks are the same architecture with different layer names and layouts:

- convolution kernels: torch OIHW -> Keras HWIO; depthwise (C, 1, H, W) -> (H, W, C, 1);
  the classifier ``classifier.1`` (1000, 1280) -> Keras ``predictions`` (1280, 1000). torch has
  no softmax on the logits and Keras has: the ranking of the classes is the same.
- BatchNorm epsilon: torch uses 1e-5, Keras's MobileNetV2 1e-3. The difference is folded into
  gamma, ``gamma * sqrt(var + 1e-3) / sqrt(var + 1e-5)``, so that the stock Keras model (and any
  ``weights=<file>`` load) computes exactly torch's inference-time function. Some channels have
  variances near 1e-12, where an unfolded epsilon would change the activations a lot.
- Stride-2 padding: Keras pads asymmetrically (bottom/right) on even-sized feature maps, torch
  pads symmetrically. At input sizes of the form 32k+1 (161, 193, 225) every stride-2 layer sees
  an odd size and both pad one pixel per side, so the outputs agree to float precision; at other
  sizes they differ slightly (the features stay good).
- Preprocessing: the weights expect torchvision's ImageNet mean/std normalisation
  (:class:`ImageNetPreprocessing` ``"torch"``), not Keras's [-1, 1].
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

TORCH_BATCHNORM_EPSILON = 1e-5
NUM_BLOCKS = 17  # inverted residual blocks: torch features.1..17, Keras expanded_conv + block_1..block_16


class ConversionError(ValueError):
    """The state dict does not fit Keras's MobileNetV2 (wrong architecture, alpha or missing keys)."""


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    return np.transpose(weight, (2, 3, 1, 0))  # OIHW -> HWIO


def _depthwise_kernel(weight: np.ndarray) -> np.ndarray:
    return np.transpose(weight, (2, 3, 0, 1))  # (C, 1, H, W) -> (H, W, C, 1)


def _batchnorm(state: Mapping[str, np.ndarray], prefix: str, keras_epsilon: float) -> list[np.ndarray]:
    gamma, beta = state[f"{prefix}.weight"], state[f"{prefix}.bias"]
    mean, var = state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"]
    folded_gamma = gamma * np.sqrt(var + keras_epsilon) / np.sqrt(var + TORCH_BATCHNORM_EPSILON)
    return [folded_gamma.astype(np.float32), beta, mean, var]


def _layer_map() -> Iterator[tuple[str, str, str]]:
    """(Keras layer name, kind, torch key prefix) for every layer with weights, in network order."""
    yield "Conv1", "conv", "features.0.0"
    yield "bn_Conv1", "bn", "features.0.1"
    yield "expanded_conv_depthwise", "depthwise", "features.1.conv.0.0"
    yield "expanded_conv_depthwise_BN", "bn", "features.1.conv.0.1"
    yield "expanded_conv_project", "conv", "features.1.conv.1"
    yield "expanded_conv_project_BN", "bn", "features.1.conv.2"
    for block in range(1, NUM_BLOCKS):
        torch_prefix, keras_prefix = f"features.{block + 1}.conv", f"block_{block}_"
        yield f"{keras_prefix}expand", "conv", f"{torch_prefix}.0.0"
        yield f"{keras_prefix}expand_BN", "bn", f"{torch_prefix}.0.1"
        yield f"{keras_prefix}depthwise", "depthwise", f"{torch_prefix}.1.0"
        yield f"{keras_prefix}depthwise_BN", "bn", f"{torch_prefix}.1.1"
        yield f"{keras_prefix}project", "conv", f"{torch_prefix}.2"
        yield f"{keras_prefix}project_BN", "bn", f"{torch_prefix}.3"
    yield "Conv_1", "conv", "features.18.0"
    yield "Conv_1_bn", "bn", "features.18.1"
    yield "predictions", "dense", "classifier.1"


def keras_weights_from_torchvision(
    state: Mapping[str, np.ndarray], keras_epsilon: float = 1e-3
) -> dict[str, list[np.ndarray]]:
    """{Keras layer name: the weights list ``layer.set_weights`` takes}, for every layer of MobileNetV2 alpha 1.0."""
    converted: dict[str, list[np.ndarray]] = {}
    try:
        for layer, kind, prefix in _layer_map():
            if kind == "conv":
                converted[layer] = [_conv_kernel(state[f"{prefix}.weight"])]
            elif kind == "depthwise":
                converted[layer] = [_depthwise_kernel(state[f"{prefix}.weight"])]
            elif kind == "bn":
                converted[layer] = _batchnorm(state, prefix, keras_epsilon)
            else:
                converted[layer] = [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]]
    except KeyError as exc:
        raise ConversionError(f"not a torchvision MobileNetV2 state dict: {exc.args[0]!r} is missing") from None
    return converted


def load_torchvision_weights(model, state: Mapping[str, np.ndarray]) -> None:
    """Sets a Keras MobileNetV2 (alpha 1.0, with or without top) from torchvision's state dict."""
    epsilons = {layer.epsilon for layer in model.layers if hasattr(layer, "epsilon") and hasattr(layer, "moving_variance")}
    if len(epsilons) != 1:
        raise ConversionError(f"expected one BatchNorm epsilon across the model, found {sorted(epsilons)}")
    converted = keras_weights_from_torchvision(state, keras_epsilon=epsilons.pop())
    names = {layer.name for layer in model.layers if layer.weights}
    missing = sorted(names - set(converted))
    if missing:
        raise ConversionError(f"the Keras model has layers the checkpoint does not fill: {missing}")
    for layer in model.layers:
        if layer.name not in names:
            continue
        expected = [tuple(w.shape) for w in layer.get_weights()]
        given = [tuple(w.shape) for w in converted[layer.name]]
        if expected != given:
            raise ConversionError(f"layer {layer.name}: Keras expects shapes {expected}, the checkpoint gives {given} (alpha 1.0 only)")
        layer.set_weights(converted[layer.name])
