"""Grad-CAM of the predicted class, batched: one forward and one backward pass per batch.

For each image, with A the feature maps of ``layer_name`` ([h, w, K]) and z_c the logit of the
predicted class c (the input of the final softmax, not the saturating probability):

    alpha_k = mean_{i,j} dz_c / dA_ij^k        cam = ReLU(sum_k alpha_k A^k)        cam /= max(cam)

Images are independent in inference mode, so the gradient of sum_n z_{c_n}(n) with respect to
the batch of feature maps gives every image its own gradient in one backward pass. The predicted
class is the argmax over the first ``num_targets`` logits: a model with abstention outputs
(docs/trust.md) predicts, and explains, one of its target classes.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from dermflow.models.skin_lesion_classifier import OUTPUT_LAYER


class GradCam(tf.Module):
    """``GradCam(model, layer)(pixels)`` -> (target probabilities [N, C], predicted_index int32 [N], heatmap [N, h, w]).

    ``pixels``: float32 [N, S, S, 3] RGB in 0..255, as the model takes them. Heatmaps are in
    [0, 1]; an image with no positive evidence gets an all-zero map.
    """

    def __init__(self, model: keras.Model, layer_name: str, num_targets: int | None = None):
        super().__init__(name="gradcam")
        self.model = model
        self.layer_name = layer_name
        self.num_targets = int(model.output_shape[-1]) if num_targets is None else int(num_targets)
        output_layer = model.get_layer(OUTPUT_LAYER)
        feature_tensor = model.get_layer(layer_name).output
        self._features = keras.Model(model.input, feature_tensor)
        self._to_logit_input = keras.Model(feature_tensor, output_layer.input)
        self._output_layer = output_layer
        size = model.input_shape[1:]
        self.compute = tf.function(self._gradcam, input_signature=[tf.TensorSpec([None, *size], tf.float32)])
        self.compute_with_head = tf.function(
            self._gradcam_with_head, input_signature=[tf.TensorSpec([None, *size], tf.float32)]
        )

    def __call__(self, pixels) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        return self.compute(tf.convert_to_tensor(pixels, tf.float32))

    def _logits(self, dense_input: tf.Tensor) -> tf.Tensor:
        dense = self._output_layer
        logits = tf.matmul(tf.cast(dense_input, tf.float32), tf.cast(dense.kernel, tf.float32))
        return logits + tf.cast(dense.bias, tf.float32) if dense.use_bias else logits

    def _gradcam(self, pixels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        logits, _, predicted, heatmap = self._gradcam_with_head(pixels)
        return tf.nn.softmax(logits[:, : self.num_targets]), predicted, heatmap

    def _gradcam_with_head(self, pixels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """(every logit [N, C + K], dense input [N, D] (the pooled features), predicted target index, heatmap)."""
        features = self._features(pixels, training=False)
        with tf.GradientTape() as tape:
            tape.watch(features)
            dense_input = self._to_logit_input(features, training=False)
            logits = self._logits(dense_input)
            predicted = tf.argmax(logits[:, : self.num_targets], axis=-1, output_type=tf.int32)
            score = tf.reduce_sum(tf.gather(logits, predicted, axis=1, batch_dims=1))
        gradients = tf.cast(tape.gradient(score, features), tf.float32)
        channel_weights = tf.reduce_mean(gradients, axis=[1, 2])
        cam = tf.nn.relu(tf.einsum("nhwk,nk->nhw", tf.cast(features, tf.float32), channel_weights))
        peak = tf.reduce_max(cam, axis=[1, 2], keepdims=True)
        return logits, tf.cast(dense_input, tf.float32), predicted, tf.math.divide_no_nan(cam, peak)


def make_gradcam_fn(model: keras.Model, layer_name: str,
                    num_targets: int | None = None) -> tf.types.experimental.PolymorphicFunction:
    """The tf.function of a :class:`GradCam` (pixels float32 [N, S, S, 3] -> probabilities, predicted_index, heatmap)."""
    return GradCam(model, layer_name, num_targets).compute
