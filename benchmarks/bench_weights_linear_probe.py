"""Linear probe: how much do ImageNet weights give a frozen MobileNetV2 on real MEL/NV/BCC images?

Frozen backbone (alpha 1.0, 225 px, global average pooling) -> logistic regression, with
lesion-grouped, class-stratified 5-fold cross-validation on ../shared/data/isic2019-dev.
Prints ISIC balanced accuracy (mean per-class recall) with the installed ImageNet weights and,
as the baseline measured in the same run, with random weights (``weights: none``).

    KERAS_HOME=var/keras .venv/bin/python benchmarks/bench_weights_linear_probe.py [--limit N]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from dermflow.config import DermflowConfig
from dermflow.imaging import ImageRejected
from dermflow.imaging.model_input import ImagePathSettings, decode_and_resize, prepare_image
from dermflow.isic.archive_pairing import list_image_files, plan_archive
from dermflow.isic.csv_reader import read_isic_csvs

DEFAULT_DATA = Path(os.environ.get("DERMFLOW_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "isic2019-dev"


def load_images(root: Path, classes: list[str], size: int, limit: int | None):
    data = DermflowConfig().data
    image_path = ImagePathSettings.from_config(data)
    table = read_isic_csvs(root / data.ground_truth_csv, root / data.metadata_csv)
    plan = plan_archive(table, list_image_files(root / data.images_dir))
    pairs = [(path, record) for path, record in plan.pairs if record.diagnosis in classes]
    if limit:
        pairs = pairs[:: max(1, len(pairs) // limit)][:limit]
    pixels, labels, groups, rejected = [], [], [], []
    for path, record in pairs:
        try:
            prepared = prepare_image(Path(path).read_bytes(), image_path)
        except ImageRejected as exc:
            rejected.append(f"{path}: {exc}")
            continue
        pixels.append(decode_and_resize(prepared.data, size).numpy())
        labels.append(classes.index(record.diagnosis))
        groups.append(record.lesion_id or f"image:{record.image_id}")
    return np.stack(pixels).astype(np.float32), np.array(labels), np.array(groups), rejected


def backbone_features(setting: str, pixels: np.ndarray, size: int, batch_size: int) -> np.ndarray:
    import keras

    from dermflow.weights import ImageNetPreprocessing, resolve_mobilenet_v2_weights

    weights = resolve_mobilenet_v2_weights(setting, alpha=1.0, rows=size)
    inputs = keras.Input((size, size, 3))
    backbone = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=1.0, include_top=False, pooling="avg",
        weights=str(weights.path) if weights.path else None,
    )
    backbone.trainable = False
    model = keras.Model(inputs, backbone(ImageNetPreprocessing(weights.preprocessing)(inputs), training=False))
    return model.predict(pixels, batch_size=batch_size, verbose=0)


def balanced_accuracy_cv(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = []
    for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(features, labels, groups):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced", C=0.1))
        probe.fit(features[train], labels[train])
        scores.append(balanced_accuracy_score(labels[test], probe.predict(features[test])))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=225)
    parser.add_argument("--limit", type=int, help="Use only this many images (a quick run).")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    classes = ["MEL", "NV", "BCC"]

    started = time.perf_counter()
    pixels, labels, groups, rejected = load_images(args.data, classes, args.size, args.limit)
    counts = ", ".join(f"{c} {int((labels == i).sum())}" for i, c in enumerate(classes))
    print(f"{len(labels)} images ({counts}), {len(set(groups))} lesion groups, {len(rejected)} rejected, "
          f"loaded in {time.perf_counter() - started:.0f}s")
    for line in rejected:
        print("  rejected", line)

    results = {}
    for setting in ("none", "imagenet"):
        started = time.perf_counter()
        features = backbone_features(setting, pixels, args.size, args.batch_size)
        seconds = time.perf_counter() - started
        scores = balanced_accuracy_cv(features, labels, groups, args.folds, seed=0)
        results[setting] = float(np.mean(scores))
        print(f"weights={setting:8s} balanced accuracy {np.mean(scores):.3f} ± {np.std(scores):.3f} "
              f"(folds {', '.join(f'{s:.3f}' for s in scores)}); features {len(labels) / seconds:.0f} img/s")
    chance = 1 / len(classes)
    print(f"pretrained / random = {results['imagenet'] / results['none']:.2f}x; "
          f"above chance ({chance:.3f}): pretrained {results['imagenet'] - chance:+.3f}, random {results['none'] - chance:+.3f}")


if __name__ == "__main__":
    main()
