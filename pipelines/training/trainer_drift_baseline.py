"""After the export: the model's drift baseline, recorded beside it (``dermflow.monitoring.drift_baseline``).

    record_baseline_after_export(fn_args.serving_model_dir, list(fn_args.eval_files), batch_size, trust, cfg.trust.seed)

The baseline is the held-out ``test`` split (found beside the eval split, as ``trainer_calibration``
finds it), its stored images scored by the exported model through the predictor that batch scoring
uses. When the trust values were fitted on that split, only its **part B** is kept: part A fitted the
temperature and the class means, so its images look more in scope and better calibrated than any new
image would (about half of them get ``in_scope_score`` 1), while part B set only the quantiles, which
makes its scores what new in-distribution images get. Without a test split (``data.test_fraction`` 0)
it is the eval split, and the baseline's note says so; every scoring run's summary then repeats it.
"""
from __future__ import annotations

import logging
from typing import Iterator

import tensorflow as tf

from dermflow.monitoring.drift_baseline import DriftBaseline, HeldOutImage, record_drift_baseline
from dermflow.pipelines.training import trainer_input
from dermflow.pipelines.training.trainer_calibration import held_out_test_patterns
from dermflow.trust import TrustParameters, fit_halves

log = logging.getLogger(__name__)

EVAL_SPLIT_NOTE = ("the model was trained without a test split (data.test_fraction 0): the baseline is the eval split, "
                   "which also chose the epoch")
PART_B_NOTE = "part B, {kept} of {total}: the half that fitted neither the temperature nor the class means"
_FEATURES = {
    trainer_input.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
    "width": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "height": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "format": tf.io.FixedLenFeature([], tf.string, default_value=""),  # examples ingested before it: no format
}


def _known(value: int) -> int | None:
    return value if value > 0 else None


def held_out_images(patterns: list[str]) -> Iterator[HeldOutImage]:
    """The stored image, source size and format of every example matching ``patterns``, in file order (the
    order ``trainer_calibration.read_head_outputs`` reads them in, so fit_trust's indices apply)."""
    files = sorted({path for pattern in patterns for path in tf.io.gfile.glob(pattern)})
    if not files:
        return
    for serialized in trainer_input.read_records(files).as_numpy_iterator():
        example = tf.io.parse_single_example(serialized, _FEATURES)
        source_format = example["format"].numpy().decode("utf-8")
        yield HeldOutImage(example[trainer_input.IMAGE_KEY].numpy(), _known(int(example["width"])),
                           _known(int(example["height"])), source_format or None)


def _fitted_on(trust: TrustParameters | None, split: str) -> bool:
    return trust is not None and trust.fitted and trust.fit.get("split") == split


def record_baseline_after_export(export_dir: str, eval_patterns: list[str], batch_size: int = 32,
                                 trust: TrustParameters | None = None, trust_seed: int = 0) -> DriftBaseline:
    """Scores the held-out split (its part B when ``trust`` was fitted on it) and writes ``assets.extra/drift_baseline.pq``."""
    test_patterns = held_out_test_patterns(eval_patterns)
    split, patterns, note = ("test", test_patterns, "") if test_patterns else ("eval", list(eval_patterns), EVAL_SPLIT_NOTE)
    if not test_patterns:
        log.warning("Trainer: drift baseline: %s", EVAL_SPLIT_NOTE)
    images = held_out_images(patterns)
    if _fitted_on(trust, split):
        held_out = list(images)
        if trust.fit.get("sizes", {}).get("held_out", len(held_out)) != len(held_out):
            raise ValueError(f"drift baseline: {len(held_out)} {split} images, but the trust values were fitted on "
                             f"{trust.fit['sizes']['held_out']}")
        _, part_b = fit_halves(len(held_out), trust_seed)
        images = (held_out[i] for i in part_b)
        part = PART_B_NOTE.format(kept=part_b.size, total=len(held_out))
        note = f"{part}; {note}" if note else part
    baseline = record_drift_baseline(export_dir, images, split, note, batch_size)
    log.info("Trainer: drift baseline of %d %s-split images recorded%s", baseline.images, split,
             f" ({note})" if note else "")
    return baseline
