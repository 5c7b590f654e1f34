"""Do test-time flips pay for their cost? The trained model on one split, with and without the 4 flips.

    python benchmarks/bench_test_time_flips.py --work-dir DIR [--split test]

``DIR`` is a ``bench_accuracy_isic_dev.py --work-dir DIR`` run (its pipeline root holds the Trainer's
export and ClassFilter's splits). The exported ``.keras`` model scores the split's images as the
Trainer's eval input does, then once per flip (left-right, up-down, both: the augmentation the
``fast`` preset trains with), and the four probability vectors are averaged. Prints balanced
accuracy and melanoma AUC each way, and the CPU seconds of each, so the ratio of cost stands
beside the gain.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench_accuracy_isic_dev import newest

FLIPS = {
    "identity": lambda x: x,
    "left_right": lambda x: x[:, :, ::-1, :],
    "up_down": lambda x: x[:, ::-1, :, :],
    "both": lambda x: x[:, ::-1, ::-1, :],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--split", default="test", choices=["eval", "test"])
    args = parser.parse_args(argv)
    roots = list(args.work_dir.glob("**/ClassFilter"))
    if not roots:
        print(f"no bench_accuracy_isic_dev pipeline under {args.work_dir}", file=sys.stderr)
        return 2
    root = roots[0].parent

    import tensorflow as tf
    from sklearn.metrics import roc_auc_score

    from dermflow.config import load_config
    from dermflow.models import load_keras_model
    from dermflow.pipelines.training import trainer_input
    from dermflow.pipelines.training.trainer_callbacks import isic_balanced_accuracy

    serving = newest("Trainer/model/*/Format-Serving", root)
    labels = (serving / "assets.extra" / "labels.txt").read_text().split()
    provenance = json.loads((serving / "assets.extra" / "weights_provenance.json").read_text())
    image_size = int(provenance["image_size"])
    positive = labels.index(load_config().labels.positive_label)
    split_dir = newest(f"ClassFilter/filtered_examples/*/Split-{args.split}", root)
    model = load_keras_model(serving / "assets.extra" / "model.keras")
    summary = trainer_input.summarize_split([str(split_dir / "*")], len(labels))
    data = trainer_input.eval_dataset(summary, image_size, 32)
    pixels, truth = zip(*data.as_numpy_iterator())
    truth = np.concatenate(truth)

    results, seconds = {}, {}
    for name, flip in FLIPS.items():
        cpu = time.process_time()
        results[name] = np.concatenate([model.predict_on_batch(tf.constant(flip(batch))) for batch in pixels])
        seconds[name] = time.process_time() - cpu

    def figures(probabilities: np.ndarray) -> dict:
        return {"balanced_accuracy": isic_balanced_accuracy(truth, probabilities.argmax(axis=1)),
                f"{labels[positive]}_auc": float(roc_auc_score(truth == positive, probabilities[:, positive]))}

    averaged = np.mean([results[name] for name in FLIPS], axis=0)
    report = {
        "split": args.split, "images": int(truth.size), "image_size": image_size,
        "without": figures(results["identity"]), "with_4_flips": figures(averaged),
        "cpu_seconds_without": seconds["identity"], "cpu_seconds_with": sum(seconds.values()),
    }
    print(json.dumps(report, indent=2))
    key = f"{labels[positive]}_auc"
    print(f"{args.split} ({truth.size} images): BMA {report['without']['balanced_accuracy']:.3f} -> "
          f"{report['with_4_flips']['balanced_accuracy']:.3f}, {key} {report['without'][key]:.3f} -> "
          f"{report['with_4_flips'][key]:.3f} with the 4 flips, for "
          f"{report['cpu_seconds_with'] / report['cpu_seconds_without']:.1f}x the CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
