"""Exports a trained classifier as a SavedModel with its preprocessing inside, plus its extras.

    export_dir/                         SavedModel (tf.saved_model.save)
      serving_default  examples string [None] (tf.Example, feature `image`) -> probabilities [None, C], + trust
      predict_images   images string [None] (encoded JPEG/PNG)  -> probabilities, predicted_index, + trust
      gradcam_images   images string [None]                     -> probabilities, predicted_index, gradcam, + trust
      gradcam_pixels   pixels uint8 [None, S, S, 3]             -> probabilities, predicted_index, gradcam, + trust
      assets.extra/model.keras  labels.txt  labels.json  weights_provenance.json  calibration.json

"+ trust" (every signature, docs/trust.md): ``probabilities`` are the target classes' only, renormalised
over the targets and calibrated (softmax of the target logits / temperature; they sum to 1),
``in_scope_score`` float32 [None] in (0, 1], ``out_of_scope`` bool [None] and which signal raised it
(``out_of_scope_other_diagnosis``: memory, ``out_of_scope_novel``: novelty; bool [None] each),
``prediction_set`` bool [None, C] and ``prediction_set_size`` int32 [None]; a model with abstention
outputs (``trust.abstention: hod``) also returns ``other_diagnosis_probability`` float32 [None], their
summed probability. The fitted values (:class:`dermflow.trust.TrustParameters`: the feature-distance
detector and the out-of-scope decision's references) are variables of the exported module.

Images are decoded and resized in-graph by :func:`dermflow.imaging.model_input.decode_and_resize`,
the same function the trainer's tf.data uses. ``serving_default`` is what TFMA's Evaluator calls;
batch scoring and the web server call ``gradcam_images`` on the bytes that
:func:`~dermflow.imaging.model_input.prepare_image` made of the file, as ingest did. So every one of
them feeds the network the same tensor for the same file.

``predict_images`` and ``gradcam_images`` decode whatever JPEG or PNG they are given. For an upright
8-bit JPEG within ``data.max_side`` that is exactly what scoring does. A PNG within ``max_side``
gives the same label, but scoring first re-encodes it as ingest does (JPEG at ``data.jpeg_quality``), so
the probabilities can differ in the last digits of JPEG loss. Other files (larger, EXIF-rotated,
CMYK, 16-bit, DICOM) need :func:`~dermflow.imaging.model_input.prepare_image` first: use
``dermflow score`` or :class:`dermflow.inference.lesion_predictor.LesionPredictor`.
"""
from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from dermflow.models.gradcam import GradCam
from dermflow.imaging.model_input import ImagePathSettings, decode_and_resize_batch
from dermflow.isic.class_names import label_document
from dermflow.models.export_layout import CALIBRATION_FILE, EXTRAS_DIR, KERAS_FILE, LABEL_NAMES_FILE, LABELS_FILE, PROVENANCE_FILE
from dermflow.models.skin_lesion_classifier import OUTPUT_LAYER, BuiltClassifier
from dermflow.models.trust_head import TrustHead
from dermflow.trust import TrustParameters

IMAGE_FEATURE = "image"
SIGNATURES = ("serving_default", "predict_images", "gradcam_images", "gradcam_pixels")


def dense_input_dim(built: BuiltClassifier) -> int:
    """Width of the classifier's penultimate features (the input of its output Dense layer)."""
    return int(built.model.get_layer(OUTPUT_LAYER).input.shape[-1])


def head_model(built: BuiltClassifier):
    """pixels -> the output Dense layer's input (the pooled features), for fitting and the signatures."""
    import keras

    return keras.Model(built.model.input, built.model.get_layer(OUTPUT_LAYER).input)


def logits_of(dense, dense_input: tf.Tensor) -> tf.Tensor:
    """The output Dense layer's logits (before its softmax), in float32."""
    logits = tf.matmul(tf.cast(dense_input, tf.float32), tf.cast(dense.kernel, tf.float32))
    return logits + tf.cast(dense.bias, tf.float32) if dense.use_bias else logits


class ClassifierServing(tf.Module):
    """The exported object: the Keras model, its trust head, and the signature functions around it."""

    def __init__(self, built: BuiltClassifier, trust: TrustParameters | None = None):
        super().__init__(name="dermflow_classifier")
        self.model = built.model
        self.output_dense = built.model.get_layer(OUTPUT_LAYER)
        self.head_model = head_model(built)
        self.gradcam = GradCam(built.model, built.gradcam_layer, built.num_classes)
        self.trust = TrustHead(trust or TrustParameters.identity(built.num_classes, dense_input_dim(built)),
                               built.num_outputs)
        self.image_size = built.image_size
        size = self.image_size
        self.serving_default = tf.function(self._from_examples, input_signature=[tf.TensorSpec([None], tf.string)])
        self.predict_images = tf.function(self._predict_images, input_signature=[tf.TensorSpec([None], tf.string)])
        self.gradcam_images = tf.function(self._gradcam_images, input_signature=[tf.TensorSpec([None], tf.string)])
        self.gradcam_pixels = tf.function(
            self._gradcam_pixels, input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)]
        )

    def _trusted(self, pixels: tf.Tensor) -> dict[str, tf.Tensor]:
        dense_input = tf.cast(self.head_model(pixels, training=False), tf.float32)
        return self.trust(logits_of(self.output_dense, dense_input), dense_input)

    def _from_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(examples, {IMAGE_FEATURE: tf.io.FixedLenFeature([], tf.string)})
        return self._trusted(decode_and_resize_batch(features[IMAGE_FEATURE], self.image_size))

    def _predict_images(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = self._trusted(decode_and_resize_batch(images, self.image_size))
        return {**outputs, "predicted_index": tf.argmax(outputs["probabilities"], -1, output_type=tf.int32)}

    def _gradcam_images(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._gradcam_outputs(decode_and_resize_batch(images, self.image_size))

    def _gradcam_pixels(self, pixels: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._gradcam_outputs(tf.cast(pixels, tf.float32))

    def _gradcam_outputs(self, pixels: tf.Tensor) -> dict[str, tf.Tensor]:
        logits, dense_input, predicted, heatmap = self.gradcam.compute_with_head(pixels)
        return {**self.trust(logits, dense_input), "predicted_index": predicted, "gradcam": heatmap}


def export_model(built: BuiltClassifier, labels: list[str], export_dir: str | Path, image_path: ImagePathSettings,
                 trust: TrustParameters | None = None, calibration: dict | None = None,
                 label_groups: dict[str, list[str]] | None = None) -> None:
    """Writes the SavedModel with the four signatures, then model.keras, labels.txt, labels.json and the provenance.

    ``labels.json`` records each label's name and ISIC codes (``label_groups``: group label -> codes),
    from the one table in :mod:`dermflow.isic.class_names`.

    ``trust`` (fitted on held-out data, :func:`dermflow.trust.fit_trust`) is applied inside every
    signature; without it the model is exported uncalibrated, flagging nothing, with full sets.
    ``calibration`` (JSON-ready figures) is written to ``assets.extra/calibration.json``.

    ``image_path`` (from the config that ingested the training data) is recorded, so that scoring and
    the web server prepare every file exactly as ingest did (:mod:`dermflow.imaging.model_input`).
    """
    if len(labels) != built.num_classes:
        raise ValueError(f"export_model: {len(labels)} labels for a model with {built.num_classes} target outputs")
    if trust is not None and trust.num_targets != built.num_classes:
        raise ValueError(f"export_model: trust fitted for {trust.num_targets} targets, the model has {built.num_classes}")
    export_dir = Path(export_dir)
    serving = ClassifierServing(built, trust)
    signatures = {name: getattr(serving, name).get_concrete_function() for name in SIGNATURES}
    tf.saved_model.save(serving, str(export_dir), signatures=signatures)
    extras = export_dir / EXTRAS_DIR
    extras.mkdir(parents=True, exist_ok=True)
    built.model.save(extras / KERAS_FILE)
    (extras / LABELS_FILE).write_text("\n".join(labels) + "\n", encoding="utf-8")
    (extras / LABEL_NAMES_FILE).write_text(json.dumps(label_document(labels, label_groups), indent=1) + "\n", encoding="utf-8")
    provenance = {
        "backbone": built.backbone,
        "gradcam_layer": built.gradcam_layer,
        "image_size": built.image_size,
        "preprocessing": built.weights.preprocessing,
        "weights_path": str(built.weights.path) if built.weights.path else None,
        "weights": built.weights.provenance,
        "image_path": image_path.provenance(),
        "abstention_codes": list(built.abstention_codes),
    }
    (extras / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    summary = (trust or TrustParameters.identity(built.num_classes, dense_input_dim(built))).summary()
    document = {**summary, **(calibration or {})}
    (extras / CALIBRATION_FILE).write_text(json.dumps(document, indent=2, sort_keys=True, default=float) + "\n",
                                           encoding="utf-8")


def load_exported(export_dir: str | Path):
    """The exported SavedModel, as ``tf.saved_model.load`` returns it (``.signatures[...]``)."""
    return tf.saved_model.load(str(export_dir))
