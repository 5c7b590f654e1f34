"""Scores the judged split once more with the exported model; the report draws ROC curves from it.

    write_eval_predictions(serving_dir, examples_artifact, out / "eval_predictions.npz")

The judged split is the one the Evaluator compares models on: the fixed test split when the
examples have one (docs/training.md#continuous-training), else eval.

The file holds ``labels`` (int), ``probabilities`` [N, C] (float32) and ``image_ids`` (str).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tfx.types import artifact_utils

EVAL_SPLIT = "eval"
TEST_SPLIT = "test"
SERVING_SIGNATURE = "serving_default"
_FEATURES = {
    "label": tf.io.FixedLenFeature([], tf.int64),
    "image_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def judged_split(examples) -> str:
    return TEST_SPLIT if TEST_SPLIT in artifact_utils.decode_split_names(examples.split_names) else EVAL_SPLIT


def eval_split_files(examples) -> list[str]:
    split_uri = artifact_utils.get_split_uri([examples], judged_split(examples))
    return sorted(tf.io.gfile.glob(f"{split_uri}/*"))


def predict_examples(serving_dir: str, files: list[str], batch_size: int = 64) -> dict[str, np.ndarray]:
    """Runs ``serving_default`` (serialized tf.Example -> probabilities) over TFRecord files (gzip or not)."""
    scorer = tf.saved_model.load(serving_dir).signatures[SERVING_SIGNATURE]
    labels, probabilities, image_ids = [], [], []
    for batch in _records(files).batch(batch_size):
        parsed = tf.io.parse_example(batch, _FEATURES)
        output = scorer(examples=batch)
        probabilities.append(output["probabilities"].numpy().astype(np.float32))
        labels.append(parsed["label"].numpy())
        image_ids.append(parsed["image_id"].numpy())
    if not probabilities:
        return {"labels": np.zeros([0], np.int64), "probabilities": np.zeros([0, 0], np.float32), "image_ids": np.zeros([0], str)}
    return {
        "labels": np.concatenate(labels),
        "probabilities": np.concatenate(probabilities),
        "image_ids": np.array([value.decode("utf-8") for value in np.concatenate(image_ids)]),
    }


def write_eval_predictions(serving_dir: str, examples, out_file: Path) -> int:
    """Writes the npz and returns how many examples it holds."""
    predictions = predict_examples(serving_dir, eval_split_files(examples))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_file, **predictions)
    return int(predictions["labels"].shape[0])


def _records(files: list[str]) -> tf.data.Dataset:
    compression = "GZIP" if files and files[0].endswith(".gz") else ""
    return tf.data.TFRecordDataset(files, compression_type=compression)
