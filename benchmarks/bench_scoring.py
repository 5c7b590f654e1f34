"""Throughput and memory of the Beam scoring job (Grad-CAM included), against baselines from the same run.

    python benchmarks/bench_scoring.py [--images 1000] [--memory-sizes 1000 5000] [--mode multi_processing]
    KERAS_HOME=var/keras python benchmarks/bench_scoring.py --full-size [--unique 300]   # the real archive's scale

``--full-size``: the images are at the real archive's sizes (``dermflow synth --full-size``: 600x450,
1024x1024, 1024x768, some 2048x1536; ``--unique`` rendered, the others hard links of them under new
ids), and the model is the default one (MobileNetV2 alpha 1.0 at the config's default image size, or
``--model-size``; ImageNet weights from
``$KERAS_HOME``, installed by ``make install``), not the small random one below.

Model: MobileNetV2 alpha 0.35, random weights (speed does not depend on them), exported with its
four signatures and pushed to a temp registry. Images: the synthetic archive (JPEG).

Baselines, measured here on the same images:
  (a) plain batched Keras ``predict`` (batch 32) on the already decoded and resized images, no Grad-CAM;
  (b) a naive per-image loop: read, prepare, decode + resize, predict and Grad-CAM with a GradientTape, one image at a time.
The job's figure is files given / time of ``run_scoring`` (listing, Beam start-up, decode, sha256,
inference, Parquet, publishing, CSV and gallery all included), and also the steady-state rate from the
difference between the two memory runs. Each rate is given per wall second and per CPU second (the
job's CPU: launcher + Beam workers); on a shared machine the CPU figures are the ones to compare.
Goals on 2 cores: >= 0.6x (a), >= 5x (b).

Memory: peak RSS of the launcher and of the largest Beam worker, for each of ``--memory-sizes``
(each size runs in a fresh process); flat means the same at every size.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dermflow.config import DataConfig
from dermflow.imaging.model_input import ImagePathSettings

IMAGE_PATH = ImagePathSettings.from_config(DataConfig())


def model_input(path: Path, size: int) -> np.ndarray:
    """A file's model input by the one image path (what the scoring job feeds the model)."""
    from dermflow.imaging.model_input import decode_and_resize, prepare_image

    return decode_and_resize(prepare_image(path.read_bytes(), IMAGE_PATH).data, size).numpy()


SMALL_MODEL_SIZE = 96


def build_registry(root: Path, model_size: int, default_model: bool = False) -> str:
    from dermflow.config import load_config
    from dermflow.models import build_classifier, export_model
    from dermflow.models.model_exporter import EXTRAS_DIR, KERAS_FILE
    from dermflow.registry import publish_version

    size = [f"model.image_size={model_size}"]
    cfg = load_config(None, size if default_model else ["model.alpha=0.35", "model.weights=none", *size])
    built = build_classifier(cfg.model, num_classes=3)
    export_model(built, ["MEL", "NV", "BCC"], root / "export", IMAGE_PATH)
    publish_version(root / "registry", cfg.model_name, root / "export", root / "export" / EXTRAS_DIR / KERAS_FILE,
                    ["MEL", "NV", "BCC"], {}, {}, cfg.to_json())
    return str(root / "registry")


def image_folder(archive_images: list[Path], folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for source in archive_images[:count]:
        os.link(source, folder / source.name)
    return folder


def decoded(files: list[Path], size: int) -> np.ndarray:
    return np.stack([model_input(f, size) for f in files])


def rates(count: int, wall_s: float, cpu_s: float) -> dict:
    return {"wall": count / wall_s, "cpu": count / cpu_s}


def baseline_predict(keras_file: Path, pixels: np.ndarray) -> dict:
    from dermflow.models import load_keras_model

    model = load_keras_model(keras_file)
    model.predict(pixels[:64], batch_size=32, verbose=0)
    start, cpu = time.perf_counter(), time.process_time()
    model.predict(pixels, batch_size=32, verbose=0)
    return rates(len(pixels), time.perf_counter() - start, time.process_time() - cpu)


def baseline_naive_loop(keras_file: Path, files: list[Path], size: int) -> dict:
    import keras
    import tensorflow as tf

    from dermflow.models import load_keras_model

    model = load_keras_model(keras_file)
    grad_model = keras.Model(model.inputs, [model.get_layer("out_relu").output, model.output])

    def one(path: Path) -> np.ndarray:
        x = model_input(path, size)[None]
        with tf.GradientTape() as tape:
            features, probabilities = grad_model(x)
            score = probabilities[0, int(tf.argmax(probabilities[0]))]
        weights = tf.reduce_mean(tape.gradient(score, features), axis=[1, 2])
        cam = tf.nn.relu(tf.einsum("nhwk,nk->nhw", features, weights))[0].numpy()
        return cam / cam.max() if cam.max() > 0 else cam

    one(files[0])
    start, cpu = time.perf_counter(), time.process_time()
    for path in files:
        one(path)
    return rates(len(files), time.perf_counter() - start, time.process_time() - cpu)


def child_run(folder: str, registry: str, output: str, mode: str, overrides: list[str]) -> dict:
    """One scoring run in this (fresh) process; prints wall time and peak RSS."""
    from dermflow.config import load_config
    from dermflow.pipelines.scoring_pipeline import run_scoring

    cfg = load_config(None, [f"beam.direct_running_mode={mode}", "beam.direct_num_workers=2", *overrides])
    start = time.perf_counter()
    summary = run_scoring(cfg, [folder], registry, Path(output))
    wall = time.perf_counter() - start
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": wall, "scored": summary["scored"], "files_given": summary["files_given"],
        "cpu_s": own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime,
        "launcher_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "largest_worker_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_in_fresh_process(folder: Path, registry: str, output: Path, mode: str, overrides: list[str]) -> dict:
    command = [sys.executable, __file__, "--child", str(folder), registry, str(output), mode, *overrides]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-4000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="Images for the throughput comparison.")
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--image-size", type=int, default=128, help="Side of the synthetic JPEGs.")
    parser.add_argument("--model-size", type=int, help=f"Model input side (default {SMALL_MODEL_SIZE}; --full-size: the config's).")
    parser.add_argument("--naive-images", type=int, default=200)
    parser.add_argument("--mode", default="multi_processing", choices=["multi_processing", "in_memory", "multi_threading"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="Config overrides for the job.")
    parser.add_argument("--full-size", action="store_true",
                        help="Full-size images (the real archive's sizes) and the default model (alpha 1.0, ImageNet, at "
                             "--model-size or the config's default image size).")
    parser.add_argument("--unique", type=int, default=300, help="--full-size: images rendered; the rest are hard links.")
    args = parser.parse_args()
    if args.full_size and args.model_size is None:
        from dermflow.config import load_config

        args.model_size = load_config().model.image_size
    args.model_size = args.model_size or SMALL_MODEL_SIZE

    from dermflow.config import DataConfig
    from dermflow.synthetic.archive_writer import write_archive

    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as tmp:
        root = Path(tmp)
        total = max([args.images, *args.memory_sizes])
        clock = time.perf_counter()
        summary = write_archive(root / "archive", n=total, seed=0, image_size=args.image_size,
                                full_size=args.full_size, unique=min(args.unique, total) if args.full_size else None)
        images = sorted((root / "archive" / DataConfig().images_dir).glob("*.jpg"))
        what = summary._sizes() if args.full_size else f"{args.image_size} px"
        reused = f"; {summary['linked_images']} are hard links of {summary['unique_images']} rendered" if summary["linked_images"] else ""
        print(f"synthetic archive: {total} JPEGs ({what}{reused}) in {time.perf_counter() - clock:.0f} s", flush=True)
        registry = build_registry(root, args.model_size, default_model=args.full_size)
        print(f"model: {'MobileNetV2 alpha 1.0, ImageNet weights' if args.full_size else 'MobileNetV2 alpha 0.35, random'} "
              f"at {args.model_size} px; load average {os.getloadavg()[0]:.1f}", flush=True)
        keras_file = next((root / "registry").glob("*/*/model.keras"))

        pixels = decoded(images[: args.images], args.model_size)
        predict_rate = baseline_predict(keras_file, pixels)
        naive_rate = baseline_naive_loop(keras_file, images[: args.naive_images], args.model_size)
        for name, rate in (("(a) batched Keras predict, no Grad-CAM", predict_rate),
                           ("(b) naive per-image loop, GradientTape", naive_rate)):
            print(f"{name:42s}: {rate['wall']:8.1f} images/s wall, {rate['cpu']:8.1f} images per CPU-second", flush=True)

        folder = image_folder(images, root / f"in_{args.images}", args.images)
        job = run_in_fresh_process(folder, registry, root / "out_throughput", args.mode, args.overrides)
        job_rate = rates(job["files_given"], job["wall_s"], job["cpu_s"])
        print(f"scoring job ({args.mode}, 2 workers), {args.images} images, start-up included:")
        report_ratios(job_rate, predict_rate, naive_rate)

        runs = {}
        for size in args.memory_sizes:
            sized = folder if size == args.images else image_folder(images, root / f"in_{size}", size)
            runs[size] = run_in_fresh_process(sized, registry, root / f"out_{size}", args.mode, args.overrides)
            print(f"memory, {size:6d} images: launcher peak RSS {runs[size]['launcher_peak_rss_mib']:7.0f} MiB, "
                  f"largest worker {runs[size]['largest_worker_peak_rss_mib']:7.0f} MiB, "
                  f"wall {runs[size]['wall_s']:.1f} s, CPU {runs[size]['cpu_s']:.1f} s", flush=True)
        small, large = min(runs), max(runs)
        if large > small:
            steady = rates(large - small, runs[large]["wall_s"] - runs[small]["wall_s"], runs[large]["cpu_s"] - runs[small]["cpu_s"])
            print(f"steady state (the extra {large - small} images of the {large}-image run over the {small}-image one):")
            report_ratios(steady, predict_rate, naive_rate)
            for key in ("launcher_peak_rss_mib", "largest_worker_peak_rss_mib"):
                print(f"peak RSS ratio {large}/{small} images, {key}: {runs[large][key] / runs[small][key]:.2f}")


def report_ratios(rate: dict, predict_rate: dict, naive_rate: dict) -> None:
    for clock in ("wall", "cpu"):
        unit = "images/s wall" if clock == "wall" else "images per CPU-second"
        print(f"  {rate[clock]:8.1f} {unit} = {rate[clock] / predict_rate[clock]:.2f}x (a), "
              f"{rate[clock] / naive_rate[clock]:.1f}x (b)", flush=True)

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        folder, registry, output, mode, *overrides = sys.argv[2:]
        print(json.dumps(child_run(folder, registry, output, mode, overrides)))
    else:
        main()
