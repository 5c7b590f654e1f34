"""The trunk-feature cache: where it cuts, that the top trains as the whole network would, and the cached flips."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from dermflow.config import ModelConfig, TrainConfig
from dermflow.models import build_classifier, set_backbone_trainable
from dermflow.pipelines.training.trainer_feature_cache import FLIPS, FeatureCache, flip, split_at_frozen_trunk

NUM_CLASSES = 3


def _small_cnn(top_layers):
    built = build_classifier(ModelConfig(backbone="small_cnn", weights="none", image_size=32, dropout=0.0), NUM_CLASSES)
    set_backbone_trainable(built.model, top_layers)
    return built


def _pixels(count=8, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


def test_cut_is_below_the_first_layer_with_trainable_weights():
    built = _small_cnn(3)  # block3_conv (trained), block3_bn (frozen), block3_relu
    split = split_at_frozen_trunk(built.model)
    assert split.cut_layer == "block3_pool"
    assert split.trunk.trainable_weights == []
    assert {w.path for w in split.top.trainable_weights} == {w.path for w in built.model.trainable_weights}


def test_head_only_cuts_at_the_pooled_features():
    built = _small_cnn(None)
    split = split_at_frozen_trunk(built.model)
    assert split.cut_layer == "head_pool"  # the dropout, training-dependent, stays on top
    assert split.feature_shape == (128,)


def test_a_cut_inside_a_residual_block_moves_down_to_one_crossing_tensor():
    built = build_classifier(ModelConfig(alpha=0.35, weights="none", image_size=32, dropout=0.0), NUM_CLASSES)
    names = [layer.name for layer in built.model.layers]
    for top_layers in (3, 14, 24):
        set_backbone_trainable(built.model, top_layers)
        split = split_at_frozen_trunk(built.model)
        pixels = _pixels(4)
        np.testing.assert_allclose(split.top(split.trunk(pixels)), built.model(pixels), rtol=1e-4, atol=1e-5)
        first_trained = min(names.index(w.path.split("/")[0]) for w in built.model.trainable_weights)
        assert names.index(split.cut_layer) < first_trained
    # 14 layers from the top start inside block_15 (its project conv), whose add also reads block_14's output: the cut
    # moves down to that one tensor rather than leaving two crossing it.
    set_backbone_trainable(built.model, 14)
    assert split_at_frozen_trunk(built.model).cut_layer == "block_14_add"


def _one_step(model, x, y, optimizer):
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply(grads, model.trainable_weights)
    return float(loss), [np.asarray(g) for g in grads]


def test_one_step_on_cached_features_gives_the_uncached_gradients_and_loss():
    pixels, labels = _pixels(8), np.arange(8) % NUM_CLASSES
    cached, plain = _small_cnn(3), _small_cnn(3)
    plain.model.set_weights(cached.model.get_weights())
    split = split_at_frozen_trunk(cached.model)
    features = split.trunk(pixels)

    loss_cached, grads_cached = _one_step(split.top, features, labels, keras.optimizers.SGD(0.1))
    loss_plain, grads_plain = _one_step(plain.model, pixels, labels, keras.optimizers.SGD(0.1))
    assert loss_cached == pytest.approx(loss_plain, rel=1e-5)
    assert len(grads_cached) == len(grads_plain) > 0
    for g_cached, g_plain in zip(grads_cached, grads_plain):
        np.testing.assert_allclose(g_cached, g_plain, rtol=1e-4, atol=1e-6)
    # After the step, both full networks (the cached one trained through its top) agree, and moved.
    after_cached = keras.losses.SparseCategoricalCrossentropy()(labels, cached.model(pixels))
    after_plain = keras.losses.SparseCategoricalCrossentropy()(labels, plain.model(pixels))
    assert float(after_cached) == pytest.approx(float(after_plain), rel=1e-4)
    assert float(after_cached) != pytest.approx(loss_cached, rel=1e-6)


def test_cache_holds_each_flip_and_batches_draw_one_per_example():
    built = _small_cnn(3)
    split = split_at_frozen_trunk(built.model)
    pixels, labels = _pixels(6), np.arange(6, dtype=np.int32) % NUM_CLASSES
    data = tf.data.Dataset.from_tensor_slices((pixels, labels)).batch(4)
    cache = FeatureCache.compute(split.trunk, data, flips=True)
    assert cache.features.shape[:2] == (len(FLIPS), 6) and cache.labels.tolist() == labels.tolist()
    for index, which in enumerate(FLIPS):
        np.testing.assert_allclose(cache.features[index], split.trunk(flip(pixels, which)), rtol=1e-5, atol=1e-5)
    assert not np.allclose(cache.features[0], cache.features[1])

    batch_features, batch_labels = next(iter(cache.train_dataset(12, TrainConfig(shuffle_buffer=6))))
    assert batch_features.shape == (12, *split.feature_shape)
    drawn = set()
    for feature, label in zip(batch_features.numpy(), batch_labels.numpy()):
        matches = [(v, i) for v in range(len(FLIPS)) for i in range(6) if np.array_equal(cache.features[v, i], feature)]
        assert matches and all(cache.labels[i] == label for _, i in matches)
        drawn |= {v for v, _ in matches}
    assert len(drawn) > 1  # not always the same flip

    eval_features, eval_labels = next(iter(cache.eval_dataset(6)))
    np.testing.assert_array_equal(eval_features, cache.features[0])
    assert eval_labels.numpy().tolist() == labels.tolist()


def test_config_refuses_the_cache_with_augmentation_it_cannot_precompute():
    from dermflow.config import load_config, ConfigError

    with pytest.raises(ConfigError, match="feature_cache precomputes flips only"):
        load_config(overrides=["train.feature_cache=true", "train.preset=custom"])
    fast = load_config(overrides=["train.preset=fast"])
    assert fast.train.feature_cache and fast.model.image_size == 161 and fast.train.fine_tune_layers == 30
    assert load_config(overrides=["train.preset=fast", "model.image_size=193"]).model.image_size == 193
    full = load_config()
    assert (full.train.preset, full.train.feature_cache, full.model.image_size, full.train.fine_tune_layers) == (
        "full", False, 225, "all")


def test_a_cache_that_would_not_fit_in_memory_is_not_built(monkeypatch):
    from dermflow.pipelines.training import trainer_feature_cache

    built = _small_cnn(None)
    data = tf.data.Dataset.from_tensor_slices((_pixels(4), np.arange(4, dtype=np.int32) % NUM_CLASSES)).batch(2)
    asked = []
    monkeypatch.setattr(trainer_feature_cache, "fits_in_memory", lambda needed: asked.append(needed) or False)
    result = trainer_feature_cache.cached_training_inputs(
        built, lambda: set_backbone_trainable(built.model, 3), data, data, 2, TrainConfig(), num_examples=8)
    assert result is None
    assert asked == [8 * len(FLIPS) * 8 * 8 * 64 * 4]  # block3_pool: 8x8x64 float32 per image and flip


def _lesion_photos(count: int, size: int = 32) -> np.ndarray:
    from dermflow.synthetic.photo_renderer import render_image

    return np.stack([render_image("NV", image_size=size, seed=0, index=i)[0] for i in range(count)]).astype("float32")


def test_cached_flips_get_their_own_artefacts_and_a_recomputed_cache_is_the_same():
    from dermflow.artefacts import RandomArtefacts

    built = _small_cnn(3)
    split = split_at_frozen_trunk(built.model)
    pixels, labels = _lesion_photos(6), np.arange(6, dtype=np.int32) % NUM_CLASSES
    data = tf.data.Dataset.from_tensor_slices((pixels, labels)).batch(4)
    every = RandomArtefacts(kinds=("ruler", "patch"), probability=1.0)
    painted = FeatureCache.compute(split.trunk, data, flips=True, artefacts=every, seed=5)
    again = FeatureCache.compute(split.trunk, data, flips=True, artefacts=every, seed=5)
    clean = FeatureCache.compute(split.trunk, data, flips=True)
    np.testing.assert_array_equal(painted.features, again.features)  # a resumed Trainer recomputes this very cache
    for variant in range(len(FLIPS)):
        for example in range(6):
            assert not np.allclose(painted.features[variant, example], clean.features[variant, example])
    other_seed = FeatureCache.compute(split.trunk, data, flips=True, artefacts=every, seed=6)
    assert not np.allclose(other_seed.features, painted.features)
