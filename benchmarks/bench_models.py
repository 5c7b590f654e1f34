"""What does Grad-CAM cost on top of a prediction, and what does batching it buy?

On the default classifier (MobileNetV2, alpha and size from the config, random weights: speed
does not depend on them), times, on the same images in the same run:
  baseline   the forward pass alone (the model called in a tf.function, batch ``--batch``),
  batched    GradCam: one forward + one backward pass per batch (what the exported signatures run),
  per-image  the same GradCam called one image at a time.
The fastest of ``--repeat`` runs is kept, in wall and CPU time. Ratios are against the baseline,
of CPU time (other jobs sharing the cores barely move it) and of wall time.

    .venv/bin/python benchmarks/bench_models.py [--size 225] [--alpha 1.0] [--n 64] [--batch 32]
"""
from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf

from dermflow.config import ModelConfig
from dermflow.models import GradCam, build_classifier
from timing import best_seconds


def batches(pixels: np.ndarray, size: int) -> list[tf.Tensor]:
    return [tf.constant(pixels[start : start + size]) for start in range(0, len(pixels), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=ModelConfig().image_size)
    parser.add_argument("--alpha", type=float, default=ModelConfig().alpha)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    built = build_classifier(ModelConfig(alpha=args.alpha, image_size=args.size, weights="none"), 3)
    pixels = np.random.default_rng(0).integers(0, 256, (args.n, args.size, args.size, 3)).astype("float32")
    forward = tf.function(lambda x: built.model(x, training=False))
    gradcam = GradCam(built.model, built.gradcam_layer)
    batched, single = batches(pixels, args.batch), batches(pixels, 1)
    cases = {
        "baseline (forward only)": lambda: [forward(x).numpy() for x in batched],
        "Grad-CAM, batched": lambda: [gradcam(x)[2].numpy() for x in batched],
        "Grad-CAM, one image per call": lambda: [gradcam(x)[2].numpy() for x in single],
    }
    for run in cases.values():  # warm-up: tracing is not what we measure
        run()
    print(f"MobileNetV2 alpha {args.alpha}, {args.size} px, {args.n} images, batch {args.batch}, best of {args.repeat}")
    print(f"{'case':<30} {'images/s':>9} {'wall s':>7} {'cpu s':>6} {'cpu ratio':>10} {'wall ratio':>11}")
    baseline = None
    for name, run in cases.items():
        wall, cpu = best_seconds(run, args.repeat)
        baseline = baseline or (wall, cpu)
        print(
            f"{name:<30} {args.n / wall:>9.1f} {wall:>7.2f} {cpu:>6.2f} {cpu / baseline[1]:>10.2f} {wall / baseline[0]:>11.2f}"
        )


if __name__ == "__main__":
    main()
