"""Ingest throughput (images/s) and peak memory: IsicExampleGen on DirectRunner multi-processing vs a plain loop.

Baseline, measured in the same run on the same archive: one process that reads each image, decodes it
with Pillow, re-encodes it, builds a tf.train.Example and writes it with tf.io.TFRecordWriter.
Each measurement runs in its own subprocess; peak memory is the largest sum of RSS over that
process and all its children, polled every 0.1 s (shared library pages are counted once per
process, so this overstates real use).

    python benchmarks/bench_ingest.py                       # real sample + synthetic 25k (generated once)
    python benchmarks/bench_ingest.py --synthetic-n 2000 --skip-real
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REAL = REPO.parent / "shared" / "data" / "isic2019-dev"


def run_measured(args: list[str]) -> tuple[dict, float]:
    """Runs this script as a subprocess phase; returns (its JSON result, peak RSS of the tree in MB)."""
    process = psutil.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    cpu: dict[int, float] = {}
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            for p in tree:
                times = p.cpu_times()
                cpu[p.pid] = times.user + times.system
        except psutil.Error:
            pass
        time.sleep(0.1)
    out = process.stdout.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"phase {args} failed ({process.returncode}): {out[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["cpu_seconds_tree"] = sum(cpu.values())  # sampled: a lower bound
    return result, peak / 2**20


def phase_baseline(data_root: Path, out: Path, max_side: int, quality: int) -> dict:
    import tensorflow as tf

    from dermflow.config import DataConfig
    from dermflow.imaging import ImageRejected, decode_image, encode_jpeg, resize_max_side, sha256_hex
    from dermflow.isic_csv import read_isic_csvs

    layout = DataConfig()
    start = time.perf_counter()
    table = read_isic_csvs(data_root / layout.ground_truth_csv, data_root / layout.metadata_csv)
    images = data_root / layout.images_dir
    written = 0
    with tf.io.TFRecordWriter(str(out / "baseline.tfrecord.gz"), "GZIP") as writer:
        for record in table.records:
            data = (images / f"{record.image_id}.jpg").read_bytes()
            try:
                decoded = decode_image(data)
            except ImageRejected:
                continue
            jpeg = encode_jpeg(resize_max_side(decoded.pixels, max_side), quality)
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
    return {"images": written, "seconds": time.perf_counter() - start}


def phase_beam(data_root: Path, out: Path, max_side: int, quality: int, workers: int) -> dict:
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts

    from dermflow.components.isic_example_gen.component import IngestReport
    from dermflow.components.isic_example_gen.executor import Executor
    from dermflow.config import load_config
    from dermflow.ingest_report import read_report

    cfg = load_config(overrides=[f"data.data_root={data_root}", f"data.max_side={max_side}", f"data.jpeg_quality={quality}",
                                 "beam.direct_running_mode=multi_processing", f"beam.direct_num_workers={workers}"])
    examples, report = standard_artifacts.Examples(), IngestReport()
    examples.uri, report.uri = str(out / "examples"), str(out / "report")
    executor = Executor(BaseBeamExecutor.Context(beam_pipeline_args=cfg.beam.pipeline_args()))
    start = time.perf_counter()
    executor.Do({}, {"examples": [examples], "ingest_report": [report]}, {"config_json": cfg.to_json()})
    seconds = time.perf_counter() - start
    return {"images": read_report(report.uri)["totals"]["examples"], "seconds": seconds}


def ensure_synthetic(path: Path, n: int, image_size: int) -> Path:
    from dermflow.synthetic_archive import write_archive

    marker = path / ".complete"
    if not marker.exists():
        if path.exists():
            import shutil
            shutil.rmtree(path)
        print(f"generating a synthetic archive of {n} images at {image_size} px into {path} (once)", flush=True)
        write_archive(path, n=n, seed=0, image_size=image_size)
        marker.write_text("ok")
    return path


def compare(name: str, data_root: Path, args) -> dict:
    common = ["--max-side", str(args.max_side), "--quality", str(args.quality)]
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        base, base_peak = run_measured(["--phase", "baseline", "--root", str(data_root), "--out", a, *common])
        beam, beam_peak = run_measured(["--phase", "beam", "--root", str(data_root), "--out", b, *common,
                                        "--workers", str(args.workers)])
    row = {
        "archive": name, "images": beam["images"],
        "baseline_img_s": base["images"] / base["seconds"], "beam_img_s": beam["images"] / beam["seconds"],
        "baseline_peak_mb": base_peak, "beam_peak_mb": beam_peak,
    }
    row["speedup"] = row["beam_img_s"] / row["baseline_img_s"]
    row["baseline_cpu_s"], row["beam_cpu_s"] = base["cpu_seconds_tree"], beam["cpu_seconds_tree"]
    row["load_average"] = os.getloadavg()[0]
    print(f"{name}: {row['images']} images | baseline {row['baseline_img_s']:.1f} img/s, peak {base_peak:.0f} MB | "
          f"IsicExampleGen multi-processing x{args.workers}: {row['beam_img_s']:.1f} img/s, peak {beam_peak:.0f} MB | "
          f"speed-up {row['speedup']:.2f}x (goal >= 1.6x), peak {'<' if beam_peak < 2048 else '>='} 2 GB | "
          f"CPU s (whole tree, imports included): baseline {row['baseline_cpu_s']:.0f}, beam {row['beam_cpu_s']:.0f} | "
          f"load average {row['load_average']:.1f}", flush=True)
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
    parser.add_argument("--max-side", type=int, default=512)
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if args.phase == "baseline":
        print(json.dumps(phase_baseline(args.root, args.out, args.max_side, args.quality)))
        return
    if args.phase == "beam":
        print(json.dumps(phase_beam(args.root, args.out, args.max_side, args.quality, args.workers)))
        return
    print(f"machine: {os.cpu_count()} CPU cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM", flush=True)
    rows = []
    if not args.skip_real and (args.real / "ISIC_2019_Training_GroundTruth.csv").is_file():
        rows.append(compare("real ISIC sample", args.real, args))
    if args.synthetic_n:
        synthetic = ensure_synthetic(args.synthetic_dir / f"n{args.synthetic_n}_{args.synthetic_size}px",
                                     args.synthetic_n, args.synthetic_size)
        rows.append(compare(f"synthetic {args.synthetic_n}", synthetic, args))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
