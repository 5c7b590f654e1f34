"""Ingest throughput (images/s) and peak memory: IsicExampleGen on DirectRunner multi-processing vs a plain loop.

Baseline, measured in the same run on the same archive: one process that reads each image, decodes it
with Pillow, keeps a JPEG that already fits within ``--max-side`` as it is and shrinks and re-encodes
anything else, builds a tf.train.Example and writes it with tf.io.TFRecordWriter (gzip, as the
component does). The same job as IsicExampleGen, done the plain way; IsicExampleGen validates a fitting
JPEG with a 1/8-scale decode instead of a full one (``dermflow.imaging.normalized_jpeg``), so the
figures also give CPU seconds per image for each, and the same Beam job on one in-process worker,
to tell the saving per image from the parallel speed-up.
Each measurement runs in its own subprocess; peak memory is the largest sum of RSS over that
process and all its children, polled every 0.1 s (shared library pages are counted once per
process, so this overstates real use).

    python benchmarks/bench_ingest.py                       # real sample + synthetic 25k (generated once)
    python benchmarks/bench_ingest.py --synthetic-n 2000 --skip-real
    python benchmarks/bench_ingest.py --full-size --skip-real  # 25k at the real archive's sizes (600x450 .. 2048x1536),
                                                            # 300 rendered, the rest hard links under new ids
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

import psutil
from dermflow.config import DEFAULT_MAX_IMAGE_PIXELS as MAX_PIXELS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REAL = REPO.parent / "shared" / "data" / "isic2019-dev"


def run_measured(args: list[str]) -> tuple[dict, float]:
    """Runs this script as a subprocess phase; returns (its JSON result, peak RSS of the tree in MB)."""
    process = psutil.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    out = process.stdout.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"phase {args} failed ({process.returncode}): {out[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return result, peak / 2**20


def cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended (Beam's workers, once the job is done)."""
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(u.ru_utime + u.ru_stime for u in usage)


def phase_baseline(data_root: Path, out: Path, max_side: int, quality: int) -> dict:
    import tensorflow as tf

    from dermflow.config import DataConfig
    from dermflow.imaging import JPEG, ImageRejected, decode_image, encode_jpeg, resize_max_side, sha256_hex
    from dermflow.isic.csv_reader import read_isic_csvs

    layout = DataConfig()
    start, cpu = time.perf_counter(), cpu_seconds()
    table = read_isic_csvs(data_root / layout.ground_truth_csv, data_root / layout.metadata_csv)
    images = data_root / layout.images_dir
    written = 0
    with tf.io.TFRecordWriter(str(out / "baseline.tfrecord.gz"), "GZIP") as writer:
        for record in table.records:
            data = (images / f"{record.image_id}.jpg").read_bytes()
            try:
                decoded = decode_image(data, max_pixels=MAX_PIXELS)
            except ImageRejected:
                continue
            fits = max(decoded.width, decoded.height) <= max_side
            jpeg = data if decoded.format == JPEG and fits else encode_jpeg(resize_max_side(decoded.pixels, max_side), quality)
            def b(v):
                return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v if isinstance(v, bytes) else v.encode()]))
            def i(v):
                return tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))
            example = tf.train.Example(features=tf.train.Features(feature={
                "image": b(jpeg), "image_id": b(record.image_id), "diagnosis": b(record.diagnosis),
                "lesion_id": b(record.lesion_id), "age_approx": i(record.age_approx), "sex": b(record.sex),
                "anatom_site_general": b(record.anatom_site_general), "width": i(decoded.width),
                "height": i(decoded.height), "sha256": b(sha256_hex(data)),
            }))
            writer.write(example.SerializeToString())
            written += 1
    return {"images": written, "seconds": time.perf_counter() - start, "cpu_seconds": cpu_seconds() - cpu}


def phase_beam(data_root: Path, out: Path, max_side: int, quality: int, workers: int, mode: str) -> dict:
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts

    from dermflow.components.artifact_types import IngestReport
    from dermflow.components.isic_example_gen.executor import Executor
    from dermflow.config import load_config
    from dermflow.isic.ingest_report import read_report

    cfg = load_config(overrides=[f"data.data_root={data_root}", f"data.max_side={max_side}", f"data.jpeg_quality={quality}",
                                 f"beam.direct_running_mode={mode}", f"beam.direct_num_workers={workers}"])
    examples, report = standard_artifacts.Examples(), IngestReport()
    examples.uri, report.uri = str(out / "examples"), str(out / "report")
    executor = Executor(BaseBeamExecutor.Context(beam_pipeline_args=cfg.beam.pipeline_args()))
    start, cpu = time.perf_counter(), cpu_seconds()
    executor.Do({}, {"examples": [examples], "ingest_report": [report]}, {"config_json": cfg.to_json()})
    seconds = time.perf_counter() - start
    return {"images": read_report(report.uri)["totals"]["examples"], "seconds": seconds, "cpu_seconds": cpu_seconds() - cpu}


def ensure_synthetic(path: Path, n: int, image_size: int, full_size: bool = False, unique: int | None = None) -> Path:
    from dermflow.synthetic.archive_writer import write_archive

    marker = path / ".complete"
    if not marker.exists():
        if path.exists():
            import shutil
            shutil.rmtree(path)
        what = "full-size" if full_size else f"{image_size} px"
        print(f"generating a synthetic archive of {n} {what} images into {path} (once)", flush=True)
        start = time.perf_counter()
        summary = write_archive(path, n=n, seed=0, image_size=image_size, full_size=full_size, unique=unique)
        print(summary, f"\n  written in {time.perf_counter() - start:.0f} s", flush=True)
        marker.write_text("ok")
    return path


def compare(name: str, data_root: Path, args) -> dict:
    common = ["--max-side", str(args.max_side), "--quality", str(args.quality)]
    runs = {}
    for label, extra in (("baseline", ["--phase", "baseline"]),
                         ("beam", ["--phase", "beam", "--workers", str(args.workers), "--mode", "multi_processing"]),
                         ("beam_1", ["--phase", "beam", "--workers", "1", "--mode", "in_memory"])):
        if label == "beam_1" and args.skip_one_worker:
            continue
        with tempfile.TemporaryDirectory() as out:
            runs[label] = run_measured([*extra, "--root", str(data_root), "--out", out, *common])
    (base, base_peak), (beam, beam_peak) = runs["baseline"], runs["beam"]
    row = {
        "archive": name, "images": beam["images"],
        "baseline_seconds": base["seconds"], "beam_seconds": beam["seconds"],
        "baseline_img_s": base["images"] / base["seconds"], "beam_img_s": beam["images"] / beam["seconds"],
        "baseline_peak_mb": base_peak, "beam_peak_mb": beam_peak,
        "baseline_cpu_ms_per_image": 1000 * base["cpu_seconds"] / base["images"],
        "beam_cpu_ms_per_image": 1000 * beam["cpu_seconds"] / beam["images"],
        "load_average": os.getloadavg()[0],
    }
    row["speedup"] = row["beam_img_s"] / row["baseline_img_s"]
    goal = 1.7 if args.full_size else 1.6
    line = (f"{name}: {row['images']} images | baseline {row['baseline_img_s']:.1f} img/s ({base['seconds']:.1f} s), "
            f"peak {base_peak:.0f} MB | IsicExampleGen multi-processing x{args.workers}: {row['beam_img_s']:.1f} img/s "
            f"({beam['seconds']:.1f} s), peak {beam_peak:.0f} MB | "
            f"speed-up {row['speedup']:.2f}x (goal >= {goal}x), peak {'<' if beam_peak < 2048 else '>='} 2 GB | "
            f"CPU ms/image (timed part, Beam workers included): baseline {row['baseline_cpu_ms_per_image']:.2f}, "
            f"beam {row['beam_cpu_ms_per_image']:.2f}")
    if "beam_1" in runs:
        one = runs["beam_1"][0]
        row["beam_1_worker_img_s"] = one["images"] / one["seconds"]
        row["parallel_speedup"] = row["beam_img_s"] / row["beam_1_worker_img_s"]
        line += (f" | one in-process worker {row['beam_1_worker_img_s']:.1f} img/s "
                 f"({row['beam_1_worker_img_s'] / row['baseline_img_s']:.2f}x baseline), "
                 f"{args.workers} workers / 1 = {row['parallel_speedup']:.2f}x")
    print(line + f" | load average {row['load_average']:.1f}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase", choices=["baseline", "beam"])
    parser.add_argument("--root", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--synthetic-n", type=int, default=25_000)
    parser.add_argument("--synthetic-size", type=int, default=256, help="px; the real sample is 180-256 px")
    parser.add_argument("--synthetic-dir", type=Path, default=Path(tempfile.gettempdir()) / "dermflow_bench_synthetic")
    parser.add_argument("--full-size", action="store_true",
                        help="synthetic images at the real archive's sizes (dermflow synth --full-size), not --synthetic-size")
    parser.add_argument("--unique", type=int, default=300,
                        help="--full-size: images rendered; the others are hard links of them under new ids")
    parser.add_argument("--max-side", type=int, default=512)
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--mode", default="multi_processing", help="beam phase: direct_running_mode")
    parser.add_argument("--skip-one-worker", action="store_true", help="skip the one-worker Beam run")
    args = parser.parse_args()
    if args.phase == "baseline":
        print(json.dumps(phase_baseline(args.root, args.out, args.max_side, args.quality)))
        return
    if args.phase == "beam":
        print(json.dumps(phase_beam(args.root, args.out, args.max_side, args.quality, args.workers, args.mode)))
        return
    print(f"machine: {os.cpu_count()} CPU cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM", flush=True)
    rows = []
    if not args.skip_real and (args.real / "ISIC_2019_Training_GroundTruth.csv").is_file():
        rows.append(compare("real ISIC sample", args.real, args))
    if args.synthetic_n:
        if args.full_size:
            synthetic = ensure_synthetic(args.synthetic_dir / f"n{args.synthetic_n}_full_u{args.unique}",
                                         args.synthetic_n, args.synthetic_size, full_size=True, unique=args.unique)
            rows.append(compare(f"synthetic full-size {args.synthetic_n} ({args.unique} rendered)", synthetic, args))
        else:
            synthetic = ensure_synthetic(args.synthetic_dir / f"n{args.synthetic_n}_{args.synthetic_size}px",
                                         args.synthetic_n, args.synthetic_size)
            rows.append(compare(f"synthetic {args.synthetic_n}", synthetic, args))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
