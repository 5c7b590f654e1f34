"""After the export: the model's drift baseline, recorded beside it (``dermflow.monitoring.drift_baseline``).

    record_baseline_after_export(fn_args.serving_model_dir, list(fn_args.eval_files))

The baseline is the held-out ``test`` split (the one ``trainer_calibration`` fits the trust values on,
found beside the eval split), its stored images scored by the exported model through the predictor
that batch scoring uses. Without a test split (``data.test_fraction`` 0) it is the eval split, and the
baseline's note says so; every scoring run's summary then repeats it.
"""
from __future__ import annotations

import logging
from typing import Iterator

import tensorflow as tf

from dermflow.monitoring.drift_baseline import DriftBaseline, HeldOutImage, record_drift_baseline
from dermflow.pipelines.training import trainer_input
from dermflow.pipelines.training.trainer_calibration import held_out_test_patterns

log = logging.getLogger(__name__)

EVAL_SPLIT_NOTE = ("the model was trained without a test split (data.test_fraction 0): the baseline is the eval split, "
                   "which also chose the epoch")
_FEATURES = {
    trainer_input.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
    "width": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "height": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "format": tf.io.FixedLenFeature([], tf.string, default_value=""),  # examples ingested before it: no format
}


def _known(value: int) -> int | None:
    return value if value > 0 else None


def held_out_images(patterns: list[str]) -> Iterator[HeldOutImage]:
    """The stored image, source size and format of every example matching ``patterns``, in file order."""
    files = sorted({path for pattern in patterns for path in tf.io.gfile.glob(pattern)})
    if not files:
        return
    for serialized in trainer_input.read_records(files).as_numpy_iterator():
        example = tf.io.parse_single_example(serialized, _FEATURES)
        source_format = example["format"].numpy().decode("utf-8")
        yield HeldOutImage(example[trainer_input.IMAGE_KEY].numpy(), _known(int(example["width"])),
                           _known(int(example["height"])), source_format or None)


def record_baseline_after_export(export_dir: str, eval_patterns: list[str], batch_size: int = 32) -> DriftBaseline:
    """Scores the held-out split with the exported model and writes ``assets.extra/drift_baseline.pq``."""
    test_patterns = held_out_test_patterns(eval_patterns)
    split, patterns, note = ("test", test_patterns, "") if test_patterns else ("eval", list(eval_patterns), EVAL_SPLIT_NOTE)
    if not test_patterns:
        log.warning("Trainer: drift baseline: %s", EVAL_SPLIT_NOTE)
    baseline = record_drift_baseline(export_dir, held_out_images(patterns), split, note, batch_size)
    log.info("Trainer: drift baseline of %d %s-split images recorded", baseline.images, split)
    return baseline
