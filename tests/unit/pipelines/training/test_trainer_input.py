"""The Trainer's tf.data input, on a few hand-made tf.Examples in a gzipped TFRecord."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from dermflow.config import TrainConfig
from dermflow.imaging import encode_jpeg
from dermflow.pipelines.training import trainer_input

IMAGE_SIZE = 32
# Solid-colour images whose grey level encodes the label, so image/label pairing can be checked.
GREY = {0: 40.0, 1: 130.0, 2: 220.0}


def _example(label: int, height: int, width: int) -> bytes:
    pixels = np.full((height, width, 3), GREY[label], dtype=np.uint8)
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encode_jpeg(pixels, quality=90)])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "image_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ISIC_x"])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write_split(folder, labels: list[int]) -> str:
    folder.mkdir(parents=True)
    path = folder / "data_tfrecord-00000-of-00001.gz"
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for index, label in enumerate(labels):
            # Source sizes vary (as in ISIC); every image must come out IMAGE_SIZE square.
            writer.write(_example(label, 20 + 7 * (index % 3), 48 - 5 * (index % 4)))
    return str(folder / "*")


@pytest.fixture()
def imbalanced_split(tmp_path):
    labels = [0] * 20 + [1] * 4 + [2] * 2
    return _write_split(tmp_path / "Split-train", labels), labels


def test_summary_counts_labels_per_class(imbalanced_split):
    pattern, _ = imbalanced_split
    summary = trainer_input.summarize_split([pattern], num_classes=3)
    assert summary.class_counts == (20, 4, 2)
    assert summary.num_examples == 26
    assert len(summary.files) == 1 and summary.files[0].endswith(".gz")


def test_labels_outside_the_vocabulary_are_an_error(imbalanced_split):
    pattern, _ = imbalanced_split
    with pytest.raises(ValueError, match="labels outside"):
        trainer_input.summarize_split([pattern], num_classes=2)


def test_no_matching_files_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TFRecord files"):
        trainer_input.summarize_split([str(tmp_path / "missing" / "*")], num_classes=3)


def test_eval_dataset_yields_every_example_once_in_order_with_its_label(imbalanced_split):
    pattern, labels = imbalanced_split
    summary = trainer_input.summarize_split([pattern], num_classes=3)
    dataset = trainer_input.eval_dataset(summary, IMAGE_SIZE, batch_size=8)
    pixels, got = zip(*dataset.as_numpy_iterator())
    pixels, got = np.concatenate(pixels), np.concatenate(got)
    assert pixels.shape == (26, IMAGE_SIZE, IMAGE_SIZE, 3) and pixels.dtype == np.float32
    assert got.dtype == np.int32 and got.tolist() == labels
    expected_grey = np.array([GREY[label] for label in labels])
    np.testing.assert_allclose(pixels.mean(axis=(1, 2, 3)), expected_grey, atol=3.0)


@pytest.mark.parametrize("imbalance", ["class_weight", "oversample"])
def test_train_dataset_batches_have_the_global_batch_shape(imbalanced_split, imbalance):
    pattern, _ = imbalanced_split
    summary = trainer_input.summarize_split([pattern], num_classes=3)
    cfg = TrainConfig(imbalance=imbalance, shuffle_buffer=64, artefact_augmentation=False)  # plain greys to compare
    pixels, labels = next(iter(trainer_input.train_dataset(summary, IMAGE_SIZE, 16, cfg)))
    assert pixels.shape == (16, IMAGE_SIZE, IMAGE_SIZE, 3) and pixels.dtype == tf.float32
    assert labels.shape == (16,) and labels.dtype == tf.int32
    grey = tf.reduce_mean(pixels, axis=[1, 2, 3]).numpy()
    np.testing.assert_allclose(grey, [GREY[int(label)] for label in labels], atol=3.0)


def test_train_dataset_images_carry_artefacts_by_default(imbalanced_split):
    pattern, _ = imbalanced_split
    summary = trainer_input.summarize_split([pattern], num_classes=3)
    cfg = TrainConfig(shuffle_buffer=64, artefact_probability=1.0, artefact_kinds=["ink", "patch"])
    pixels, labels = next(iter(trainer_input.train_dataset(summary, IMAGE_SIZE, 16, cfg)))
    flat = pixels.numpy().reshape(16, -1, 3)
    plain = np.array([GREY[int(label)] for label in labels])[:, None, None]
    assert all((np.abs(image - grey).max(axis=1) > 20).mean() > 0.01 for image, grey in zip(flat, plain))


def _label_fractions(dataset: tf.data.Dataset, batches: int) -> np.ndarray:
    labels = np.concatenate([labels for _, labels in dataset.take(batches).as_numpy_iterator()])
    return np.bincount(labels, minlength=3) / labels.size


def test_oversampling_balances_classes(imbalanced_split):
    pattern, _ = imbalanced_split
    summary = trainer_input.summarize_split([pattern], num_classes=3)
    plain = trainer_input.train_dataset(summary, IMAGE_SIZE, 20, TrainConfig(imbalance="class_weight"))
    oversampled = trainer_input.train_dataset(summary, IMAGE_SIZE, 20, TrainConfig(imbalance="oversample"))
    assert _label_fractions(plain, 13).tolist() == pytest.approx([20 / 26, 4 / 26, 2 / 26])
    np.testing.assert_allclose(_label_fractions(oversampled, 30), [1 / 3] * 3, atol=0.07)


def test_balanced_class_weights_equalise_each_class_total():
    weights = trainer_input.balanced_class_weights([6, 3, 1])
    assert weights == pytest.approx({0: 10 / 18, 1: 10 / 9, 2: 10 / 3})
    assert 6 * weights[0] == pytest.approx(3 * weights[1]) == pytest.approx(1 * weights[2])


def test_absent_classes_get_a_neutral_weight():
    assert trainer_input.balanced_class_weights([5, 0, 5]) == {0: 1.0, 1: 1.0, 2: 1.0}


def test_steps_per_epoch_is_one_pass_unless_configured(imbalanced_split):
    pattern, _ = imbalanced_split
    summary = trainer_input.summarize_split([pattern], num_classes=3)
    assert trainer_input.steps_per_epoch(summary, 8, TrainConfig()) == 4
    assert trainer_input.steps_per_epoch(summary, 8, TrainConfig(steps_per_epoch=11)) == 11
