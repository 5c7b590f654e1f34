"""tf.data input for the Trainer: the gzipped TFRecords of tf.Examples that ClassFilter writes.

Each example holds ``image`` (encoded JPEG) and ``label`` (int64 index into the label vocabulary).
Images are decoded and resized by the same function the exported model uses
(:func:`dermflow.imaging.model_input.decode_and_resize`), in parallel, cached in memory after
decoding when they fit, then shuffled, batched and prefetched. Class imbalance is handled either
by class weights (``balanced_class_weights``) or by oversampling (equal-weight sampling over one
dataset per class). Training images get random artefacts after the cache (``train.artefact_augmentation``).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from dermflow.config import TrainConfig
from dermflow.imaging.model_input import decode_and_resize
from dermflow.pipelines.training.trainer_augmentation import with_artefacts

IMAGE_KEY = "image"
LABEL_KEY = "label"

_AUTOTUNE = tf.data.AUTOTUNE
_FEATURES = {
    IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
    LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
}
_LABEL_ONLY = {LABEL_KEY: tf.io.FixedLenFeature([], tf.int64)}


@dataclass(frozen=True)
class SplitSummary:
    """What one pass over a split's labels tells the trainer."""

    files: tuple[str, ...]
    class_counts: tuple[int, ...]

    @property
    def num_examples(self) -> int:
        return int(sum(self.class_counts))


def expand_file_patterns(patterns: list[str] | tuple[str, ...]) -> list[str]:
    """TFX gives ``<split uri>/*`` patterns; returns the sorted matching files (an error when none)."""
    files = sorted({path for pattern in patterns for path in tf.io.gfile.glob(pattern)})
    if not files:
        raise FileNotFoundError(f"no TFRecord files match {list(patterns)}")
    return files


def _compression(files: list[str]) -> str:
    gzipped = {path.endswith(".gz") for path in files}
    if len(gzipped) > 1:
        raise ValueError(f"a split mixes gzipped and plain TFRecord files: {files}")
    return "GZIP" if gzipped.pop() else ""


def read_records(files: list[str]) -> tf.data.Dataset:
    """Serialized tf.Examples from gzipped (``.gz``) or plain TFRecord files, in file order."""
    return tf.data.TFRecordDataset(files, compression_type=_compression(files), num_parallel_reads=None)


def parse_image_and_label(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    features = tf.io.parse_single_example(serialized, _FEATURES)
    return features[IMAGE_KEY], tf.cast(features[LABEL_KEY], tf.int32)


def summarize_split(patterns: list[str] | tuple[str, ...], num_classes: int) -> SplitSummary:
    """One pass over the labels only (no image decoding): files and per-class counts."""
    files = expand_file_patterns(patterns)
    labels = read_records(files).map(
        lambda record: tf.io.parse_single_example(record, _LABEL_ONLY)[LABEL_KEY], num_parallel_calls=_AUTOTUNE
    ).batch(4096)
    counts = np.zeros(num_classes, dtype=np.int64)
    for batch in labels.as_numpy_iterator():
        if batch.size and (batch.min() < 0 or batch.max() >= num_classes):
            raise ValueError(f"labels outside [0, {num_classes}) in {files}: {sorted(set(batch.tolist()))}")
        counts += np.bincount(batch, minlength=num_classes)
    return SplitSummary(files=tuple(files), class_counts=tuple(int(c) for c in counts))


def balanced_class_weights(class_counts: tuple[int, ...] | list[int]) -> dict[int, float]:
    """``n / (k * n_c)`` per class (as scikit-learn's ``balanced``); absent classes get 1.0."""
    counts = np.asarray(class_counts, dtype=np.float64)
    present = counts > 0
    total, k = counts.sum(), int(present.sum())
    return {c: float(total / (k * counts[c])) if present[c] else 1.0 for c in range(len(counts))}


def fits_in_memory(num_examples: int, image_size: int, memory_fraction: float = 0.5) -> bool:
    """Whether decoded float32 images of this split fit in ``memory_fraction`` of the free memory."""
    needed = num_examples * image_size * image_size * 3 * 4
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # not a POSIX system: do not risk it
        return False
    return needed <= memory_fraction * available


def decoded_examples(records: tf.data.Dataset, image_size: int) -> tf.data.Dataset:
    """(pixels float32 [S, S, 3] in 0..255, label int32), decoded in parallel, in order."""
    return records.map(parse_image_and_label, num_parallel_calls=_AUTOTUNE).map(
        lambda image, label: (decode_and_resize(image, image_size), label), num_parallel_calls=_AUTOTUNE
    )


def steps_per_epoch(summary: SplitSummary, global_batch_size: int, train_cfg: TrainConfig) -> int:
    """``train.steps_per_epoch`` when set, otherwise one pass over the split."""
    return train_cfg.steps_per_epoch or max(1, math.ceil(summary.num_examples / global_batch_size))


def train_dataset(
    summary: SplitSummary, image_size: int, global_batch_size: int, train_cfg: TrainConfig
) -> tf.data.Dataset:
    """Endless shuffled batches for ``fit(steps_per_epoch=...)``; oversampled when ``train.imbalance`` says so."""
    cache = train_cfg.cache and fits_in_memory(summary.num_examples, image_size)
    records = read_records(list(summary.files))
    if train_cfg.imbalance == "oversample":
        dataset = _oversampled(records, summary, image_size, cache, train_cfg)
    else:
        dataset = decoded_examples(records, image_size)
        if cache:
            dataset = dataset.cache()
        dataset = dataset.shuffle(train_cfg.shuffle_buffer, seed=train_cfg.seed, reshuffle_each_iteration=True).repeat()
    dataset = with_artefacts(dataset, train_cfg)  # after the cache: new artefacts every epoch
    return _finish(dataset.batch(global_batch_size, drop_remainder=False))


def _oversampled(
    records: tf.data.Dataset, summary: SplitSummary, image_size: int, cache: bool, train_cfg: TrainConfig
) -> tf.data.Dataset:
    """Equal-weight sampling over one endless dataset per present class (filtered before decoding)."""
    parsed = records.map(parse_image_and_label, num_parallel_calls=_AUTOTUNE)
    per_class = []
    for class_index, count in enumerate(summary.class_counts):
        if count == 0:
            continue
        dataset = parsed.filter(lambda _, label, c=class_index: tf.equal(label, c)).map(
            lambda image, label: (decode_and_resize(image, image_size), label), num_parallel_calls=_AUTOTUNE
        )
        if cache:
            dataset = dataset.cache()
        buffer = min(train_cfg.shuffle_buffer, count)
        per_class.append(dataset.shuffle(buffer, seed=train_cfg.seed + class_index, reshuffle_each_iteration=True).repeat())
    weights = [1.0 / len(per_class)] * len(per_class)
    return tf.data.Dataset.sample_from_datasets(per_class, weights=weights, seed=train_cfg.seed)


def eval_dataset(summary: SplitSummary, image_size: int, batch_size: int, cache: bool = True) -> tf.data.Dataset:
    """One ordered pass of (pixels, label) batches; cached after decoding when it fits."""
    records = read_records(list(summary.files)).apply(tf.data.experimental.assert_cardinality(summary.num_examples))
    dataset = decoded_examples(records, image_size)
    if cache and fits_in_memory(summary.num_examples, image_size):
        dataset = dataset.cache()
    return _finish(dataset.batch(batch_size))


def _finish(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    # Data sharding works whatever the number of files (MultiWorkerMirroredStrategy).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(_AUTOTUNE)
