"""Labelled tf.Examples of synthetic lesions, laid out as ClassFilter writes them.

For the Trainer's tests and benchmarks, which need train/eval splits without running ingest:
``<root>/Split-<split>/data_tfrecord-00000-of-00001.gz`` with ``image`` (JPEG) and ``label``
(index into ``labels``, ISIC codes) features, images from :func:`dermflow.synthetic.archive_writer.render_image`.

    write_synthetic_splits(root, {"train": 48, "eval": 12}, ["MEL", "NV", "BCC"], 32)
    write_synthetic_out_of_scope(root, {"test": {"BKL": 6, "DF": 4}}, 32)   # <root>/OutOfScope/Split-test, label -1
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from dermflow.imaging import encode_jpeg
from dermflow.isic.out_of_scope_examples import OUT_OF_SCOPE_LABEL, out_of_scope_split_uri
from dermflow.synthetic.archive_writer import render_image

RECORD_FILE = "data_tfrecord-00000-of-00001.gz"


def labelled_example(image_jpeg: bytes, label: int, label_name: str | None = None, image_id: str | None = None) -> bytes:
    """A serialized tf.Example as ClassFilter writes one: image, label, and label_name / image_id when given."""
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_jpeg])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    for key, text in (("label_name", label_name), ("image_id", image_id)):
        if text is not None:
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_synthetic_splits(
    root: str | Path, splits: dict[str, int], labels: list[str], image_size: int, seed: int = 0
) -> dict[str, str]:
    """Writes ``splits`` (name -> number of examples, classes in turn); returns name -> file pattern."""
    root = Path(root)
    patterns, index = {}, 0
    for split, count in splits.items():
        folder = root / f"Split-{split}"
        folder.mkdir(parents=True, exist_ok=True)
        with tf.io.TFRecordWriter(str(folder / RECORD_FILE), options="GZIP") as writer:
            for position in range(count):
                label = position % len(labels)
                pixels, _ = render_image(labels[label], image_size=image_size, seed=seed, index=index)
                writer.write(labelled_example(encode_jpeg(pixels, quality=95), label, labels[label]))
                index += 1
        patterns[split] = str(folder / "*")
    return patterns


def write_synthetic_out_of_scope(root: str | Path, splits: dict[str, dict[str, int]], image_size: int,
                                 seed: int = 1) -> dict[str, str]:
    """Other diagnoses as ClassFilter keeps them beside the splits (split -> {code: n}); returns split -> pattern."""
    patterns, index = {}, 0
    for split, counts in splits.items():
        folder = Path(out_of_scope_split_uri(str(root), split))
        folder.mkdir(parents=True, exist_ok=True)
        with tf.io.TFRecordWriter(str(folder / RECORD_FILE), options="GZIP") as writer:
            for code, count in counts.items():
                for _ in range(count):
                    pixels, _ = render_image(code, image_size=image_size, seed=seed, index=index)
                    writer.write(labelled_example(encode_jpeg(pixels, quality=95), OUT_OF_SCOPE_LABEL, code))
                    index += 1
        patterns[split] = str(folder / "*")
    return patterns
