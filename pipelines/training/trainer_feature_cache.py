"""Trunk-feature cache: the frozen lower part of the classifier runs once per image and flip, not once per epoch.

    split = split_at_frozen_trunk(built.model)             # after set_backbone_trainable(...)
    cache = FeatureCache.compute(split.trunk, pixels_dataset, flips=True)
    split.top.fit(cache.train_dataset(batch, train_cfg), ...)   # trains the classifier's own top layers

With ``train.feature_cache`` on, the Trainer cuts the classifier where its frozen prefix ends: the
*trunk* is the preprocessing and every backbone layer below the first one with trainable weights
(frozen layers, BatchNorm in inference mode, activations); the *top* is the rest, up to the
softmax. The cut is moved down until exactly one tensor crosses it (MobileNetV2's residual adds
would otherwise need two). ``top`` is a Keras model over the classifier's own layer objects, so
training it trains the classifier; the exported model is the same full network either way.

Augmentation must be limited to what can be precomputed: the four flips (identity, left-right,
up-down, both), the same random choice ``RandomFlip("horizontal_and_vertical")`` makes, and
random artefacts (``train.artefact_augmentation``: each flip of an image gets its own, drawn from
the seed, the image's index and the flip). Each image's trunk output is computed once per flip and
kept in memory (float32); every epoch draws one flip per image at random. Eval features are computed once, unflipped. Nothing is written to
disk: a resumed Trainer recomputes the cache, then continues from its backup as before.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from dermflow.config import TrainConfig
from dermflow.pipelines.training.trainer_augmentation import artefact_painter

log = logging.getLogger(__name__)

_AUTOTUNE = tf.data.AUTOTUNE
# Layers whose output depends on ``training`` even when they hold no trainable weights.
_TRAINING_DEPENDENT = (keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.GaussianDropout,
                       keras.layers.SpatialDropout2D, keras.layers.ActivityRegularization)


@dataclass(frozen=True)
class TrunkSplit:
    """``trunk``: pixels -> the cut tensor (frozen); ``top``: the cut tensor -> probabilities (shares the layers)."""

    trunk: keras.Model
    top: keras.Model
    cut_layer: str

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.trunk.output.shape[1:])


def _producer(tensor) -> keras.layers.Layer:
    return tensor._keras_history.operation


def _inputs_of(layer: keras.layers.Layer) -> list:
    """The tensors the layer reads in the classifier's own graph (its first call)."""
    return list(layer._inbound_nodes[0].input_tensors) if layer._inbound_nodes else []


def _output_of(layer: keras.layers.Layer):
    return layer._inbound_nodes[0].output_tensors[0]


def _frozen_prefix_length(model: keras.Model) -> int:
    """How many of ``model.layers`` (topological order) lead the graph without trainable weights or training-dependent behaviour."""
    for index, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer.trainable_weights or isinstance(layer, _TRAINING_DEPENDENT):
            return index
        if layer.trainable and isinstance(layer, keras.layers.BatchNormalization):
            return index  # a trainable BatchNorm normalises by batch statistics in training
    return len(model.layers) - 1  # nothing trains: keep at least the output layer on top


def split_at_frozen_trunk(model: keras.Model) -> TrunkSplit:
    """Cuts ``model`` (a flat functional classifier, trainability already set) below its first trained layer."""
    layers = model.layers
    position = {id(layer): index for index, layer in enumerate(layers)}
    end = _frozen_prefix_length(model)
    while end > 1:
        cut = layers[end - 1]
        crossing = {
            id(tensor)
            for layer in layers[end:]
            for tensor in _inputs_of(layer)
            if position.get(id(_producer(tensor)), len(layers)) < end
        }
        if not isinstance(cut, keras.layers.InputLayer) and crossing == {id(_output_of(cut))}:
            break
        end -= 1
    cut = layers[end - 1]
    if isinstance(cut, keras.layers.InputLayer) or end <= 1:
        raise ValueError(f"split_at_frozen_trunk: {model.name} has no frozen layers below its trained ones")
    cut_tensor = _output_of(cut)
    trunk = keras.Model(model.input, cut_tensor, name=f"{model.name}_trunk")
    features = keras.Input(shape=cut_tensor.shape[1:], dtype="float32", name="trunk_features")
    top = keras.Model(features, _rewire(layers[end:], cut_tensor, features, model.output), name=f"{model.name}_top")
    return TrunkSplit(trunk=trunk, top=top, cut_layer=cut.name)


def _rewire(layers: list, cut_tensor, new_input, output):
    """Calls ``layers`` (topological order) again on ``new_input`` in place of ``cut_tensor``; returns ``output``'s image."""
    images = {id(cut_tensor): new_input}
    for layer in layers:
        node = layer._inbound_nodes[0]  # the classifier's own call
        args, kwargs = _map_structure(node.arguments.args, images), _map_structure(node.arguments.kwargs, images)
        result = layer(*args, **kwargs)
        for old, new in zip(keras.tree.flatten(node.output_tensors), keras.tree.flatten(result)):
            images[id(old)] = new
    return images[id(output)]


def _map_structure(structure, images):
    return keras.tree.map_structure(
        lambda value: images.get(id(value), value) if isinstance(value, keras.KerasTensor) else value, structure
    )


FLIPS = ("none", "left_right", "up_down", "both")


def flip(pixels: tf.Tensor, which: str) -> tf.Tensor:
    """A batch [N, H, W, C] flipped as ``RandomFlip("horizontal_and_vertical")`` may flip it."""
    if which in ("left_right", "both"):
        pixels = tf.reverse(pixels, axis=[2])
    if which in ("up_down", "both"):
        pixels = tf.reverse(pixels, axis=[1])
    return pixels


def _painted(pixels: tf.Tensor, artefacts: Callable[..., np.ndarray], keys: list[tuple[int, int, int]]) -> tf.Tensor:
    images = np.clip(np.rint(pixels.numpy()), 0, 255).astype(np.uint8)
    seeds = [int(np.random.default_rng(key).integers(2**31)) for key in keys]
    return tf.constant(np.stack([artefacts(image, seed=s) for image, s in zip(images, seeds)]).astype(np.float32))


def cache_bytes(num_examples: int, feature_shape: tuple[int, ...], variants: int) -> int:
    return int(num_examples * variants * np.prod(feature_shape) * 4)


def fits_in_memory(needed: int, memory_fraction: float = 0.5) -> bool:
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return False
    return needed <= memory_fraction * available


@dataclass
class FeatureCache:
    """Trunk outputs ``features[variant, example, ...]`` and ``labels[example]``, in memory."""

    features: np.ndarray
    labels: np.ndarray

    @property
    def variants(self) -> int:
        return int(self.features.shape[0])

    @classmethod
    def compute(cls, trunk: keras.Model, pixels_and_labels: tf.data.Dataset, flips: bool,
                artefacts: Callable[..., np.ndarray] | None = None, seed: int = 0) -> "FeatureCache":
        """One pass over batches of (pixels, label): the trunk's output per flip (or unflipped only).

        ``artefacts`` (a :class:`dermflow.artefacts.RandomArtefacts`): each flip of each image gets its
        own random artefacts, seeded by (``seed``, image index, flip), so a recomputed cache is the same.
        """
        variants = FLIPS if flips else FLIPS[:1]
        run = tf.function(lambda x: trunk(x, training=False), reduce_retracing=True)
        per_variant: list[list[np.ndarray]] = [[] for _ in variants]
        labels = []
        for pixels, label in pixels_and_labels:
            first = sum(len(chunk) for chunk in labels)
            labels.append(label.numpy())
            for index, which in enumerate(variants):
                flipped = flip(pixels, which)
                if artefacts is not None:
                    flipped = _painted(flipped, artefacts, [(seed, first + i, index) for i in range(len(label))])
                per_variant[index].append(np.asarray(run(flipped), dtype=np.float32))
        features = np.stack([np.concatenate(chunks) for chunks in per_variant])
        return cls(features=features, labels=np.concatenate(labels).astype(np.int32))

    def train_dataset(self, batch_size: int, train_cfg: TrainConfig) -> tf.data.Dataset:
        """Endless shuffled batches of (features, label), one random cached flip per example; oversampled
        per class when ``train.imbalance`` says so (as :func:`trainer_input.train_dataset`)."""
        features = tf.constant(self.features)
        labels = tf.constant(self.labels)
        variants = self.variants
        seed = train_cfg.seed

        def indices(selection: np.ndarray, index_seed: int) -> tf.data.Dataset:
            buffer = max(1, min(train_cfg.shuffle_buffer, len(selection)))
            return tf.data.Dataset.from_tensor_slices(selection.astype(np.int64)).shuffle(
                buffer, seed=index_seed, reshuffle_each_iteration=True
            ).repeat()

        if train_cfg.imbalance == "oversample":
            present = [c for c in np.unique(self.labels)]
            per_class = [indices(np.flatnonzero(self.labels == c), seed + int(c)) for c in present]
            index_data = tf.data.Dataset.sample_from_datasets(per_class, weights=[1.0 / len(present)] * len(present), seed=seed)
        else:
            index_data = indices(np.arange(len(self.labels)), seed)
        choice = tf.data.Dataset.random(seed=seed + 101).map(lambda r: tf.math.floormod(r, variants))
        data = tf.data.Dataset.zip(index_data, choice).map(
            lambda i, v: (tf.gather_nd(features, tf.stack([v, i])), tf.gather(labels, i)), num_parallel_calls=_AUTOTUNE
        )
        return data.batch(batch_size).prefetch(_AUTOTUNE)

    def eval_dataset(self, batch_size: int) -> tf.data.Dataset:
        """One ordered pass of (features, label) batches over the unflipped features."""
        return tf.data.Dataset.from_tensor_slices((self.features[0], self.labels)).batch(batch_size).prefetch(_AUTOTUNE)


def cached_training_inputs(built, set_deepest_phase_trainable, train_pixels: tf.data.Dataset, eval_pixels: tf.data.Dataset,
                           batch_size: int, train_cfg: TrainConfig, num_examples: int,
                           ) -> tuple[keras.Model, tf.data.Dataset, tf.data.Dataset] | None:
    """The model ``fit`` trains (the top) and its train and eval datasets of cached trunk features.

    ``set_deepest_phase_trainable()`` sets the trainability of the phase that trains the most layers,
    so one cut (and one cache) serves every phase: the other phases leave more of the top frozen.
    ``train_pixels`` and ``eval_pixels``: ordered, unaugmented passes of (pixels, label) batches.
    None when the cache (``num_examples``, train and eval, per flip) would not fit in half the free memory.
    """
    set_deepest_phase_trainable()
    split = split_at_frozen_trunk(built.model)
    flips = bool(train_cfg.augment)
    needed = cache_bytes(num_examples, split.feature_shape, len(FLIPS) if flips else 1)
    if not fits_in_memory(needed):
        log.warning("Trainer: the trunk-feature cache below %s needs %.1f GiB, more than half the free memory: "
                    "training without it", split.cut_layer, needed / 2**30)
        return None
    artefacts = artefact_painter(train_cfg)
    log.info("Trainer: trunk-feature cache below %s, features %s, %d flip(s) per image%s", split.cut_layer,
             split.feature_shape, len(FLIPS) if flips else 1, ", each with random artefacts" if artefacts else "")
    train_cache = FeatureCache.compute(split.trunk, train_pixels, flips=flips, artefacts=artefacts, seed=train_cfg.seed)
    eval_cache = FeatureCache.compute(split.trunk, eval_pixels, flips=False)
    log.info("Trainer: cached %d x %d train and %d eval feature maps (%.0f MiB)", train_cache.variants,
             len(train_cache.labels), len(eval_cache.labels), (train_cache.features.nbytes + eval_cache.features.nbytes) / 2**20)
    return split.top, train_cache.train_dataset(batch_size, train_cfg), eval_cache.eval_dataset(batch_size)
