"""Does mixed precision speed up training on this machine?

Times training steps of the default classifier (MobileNetV2, alpha and size from the config, the
whole backbone trainable as in phase 2, random weights: speed does not depend on them) under each
Keras dtype policy, on the same random images in the same run. ``float32`` is the baseline;
``mixed_bfloat16`` is what a CPU could use; ``mixed_float16`` is what the Trainer turns on with a
GPU (``train.mixed_precision: auto``). The fastest of ``--repeat`` runs of ``--steps`` steps is
kept, after a warm-up run that traces the step.

    .venv/bin/python benchmarks/bench_precision.py [--size 225] [--alpha 1.0] [--batch 32] [--steps 8]
"""
from __future__ import annotations

import argparse

import keras
import numpy as np
import tensorflow as tf

from dermflow.config import ModelConfig
from dermflow.models import build_classifier
from timing import best_seconds

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def images_per_second(policy: str, args: argparse.Namespace) -> tuple[float, float]:
    """(wall, CPU) images/s of ``args.steps`` training steps under ``policy``."""
    keras.config.set_dtype_policy(policy)
    try:
        built = build_classifier(ModelConfig(alpha=args.alpha, image_size=args.size, weights="none"), 3)
        built.model.trainable = True
        built.model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (args.batch, args.size, args.size, 3)).astype("float32")
        labels = rng.integers(0, 3, args.batch)
        dataset = tf.data.Dataset.from_tensors((pixels, labels)).repeat(args.steps).cache()

        def fit() -> None:
            built.model.fit(dataset, epochs=1, verbose=0)

        fit()  # warm-up: tracing is not what we measure
        wall, cpu = best_seconds(fit, args.repeat)
    finally:
        keras.config.set_dtype_policy("float32")
    images = args.steps * args.batch
    return images / wall, images / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=ModelConfig().image_size)
    parser.add_argument("--alpha", type=float, default=ModelConfig().alpha)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"MobileNetV2 alpha {args.alpha}, {args.size} px, batch {args.batch}, {args.steps} training steps, "
          f"best of {args.repeat}; GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    print(f"{'policy':<16} {'images/s':>9} {'ratio':>6} {'img/CPU-s':>10} {'ratio':>6}")
    baseline = None
    for policy in POLICIES:
        wall_rate, cpu_rate = images_per_second(policy, args)
        baseline = baseline or (wall_rate, cpu_rate)
        print(f"{policy:<16} {wall_rate:>9.1f} {wall_rate / baseline[0]:>6.2f} {cpu_rate:>10.1f} {cpu_rate / baseline[1]:>6.2f}")


if __name__ == "__main__":
    main()
