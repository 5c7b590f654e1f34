"""The images the artefact check pastes onto: the first N eval-split examples of each class, with their masks.

    images = read_check_images(eval_split_uri, num_classes=3, per_class=200, data_root=cfg.data.data_root)

Examples come in the order of the split's sorted files; a synthetic archive's own lesion mask
(``<data_root>/ISIC_2019_Training_LesionMasks/<image_id>.png``) is used when it is there.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from dermflow.evaluation.artefact_check import CheckImage
from dermflow.synthetic.archive_writer import LESION_MASKS_DIR

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "image_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def read_check_images(split_uri: str, num_classes: int, per_class: int, data_root: Path | None) -> list[CheckImage]:
    files = sorted(tf.io.gfile.glob(f"{split_uri}/*"))
    if per_class <= 0 or not files:
        return []
    compression = "GZIP" if files[0].endswith(".gz") else ""
    counts = [0] * num_classes
    images = []
    for record in tf.data.TFRecordDataset(files, compression_type=compression).as_numpy_iterator():
        parsed = tf.io.parse_single_example(record, _FEATURES)
        label = int(parsed["label"].numpy())
        if not 0 <= label < num_classes or counts[label] >= per_class:
            continue
        counts[label] += 1
        image_id = parsed["image_id"].numpy().decode("utf-8")
        images.append(CheckImage(image_id, label, parsed["image"].numpy(), archive_mask(data_root, image_id)))
        if min(counts) >= per_class:
            break
    return images


def archive_mask(data_root: Path | None, image_id: str) -> np.ndarray | None:
    """The archive's own lesion mask of ``image_id`` (synthetic archives), or None."""
    if data_root is None or not image_id:
        return None
    path = Path(data_root) / LESION_MASKS_DIR / f"{image_id}.png"
    if not path.is_file():
        return None
    with Image.open(path) as mask:
        return np.asarray(mask.convert("L")) > 127
