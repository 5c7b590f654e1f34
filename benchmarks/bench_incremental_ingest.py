"""Incremental ingest: adding a span to an archive already ingested, against ingesting the archive (issue 27).

    nice -n 5 python benchmarks/bench_incremental_ingest.py                 # 25,000 full-size + a span of 1,000
    python benchmarks/bench_incremental_ingest.py --n 2000 --span 200       # quicker

The archive: ``dermflow synth --full-size`` images (sizes drawn from the real archive's, 600x450 ..
2048x1536), ``--unique`` of them rendered and the rest hard links under their own ids (as
``bench_ingest.py --full-size``); the span: ``--span`` more, rendered from another seed, so none is a
duplicate. Generated once into ``--dir``. Measured in the same run, each phase in its own subprocess
(wall seconds, CPU seconds of the phase and its Beam workers, peak RSS of the tree):

- **full**: IsicExampleGen's executor on the archive alone, no previous ingest (DirectRunner
  multi-processing, ``--workers`` workers): every image encoded;
- **add span**: the span lands as ``spans/batch``; the executor again, given the full phase's
  Examples as its previous ingest: the archive's span is reused (its files hard-linked), only the new
  span is encoded;
- **nothing new**: once more, given the add-span phase's Examples: every span reused.

Goal: add span <= 10 % of full's wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import subprocess

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import cpu_seconds, ensure_synthetic  # noqa: E402


def run_measured(args: list[str]) -> tuple[dict, float]:
    """This script as a subprocess phase; returns (its JSON result, peak RSS of the tree in MB), as bench_ingest's."""
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: Beam's and TensorFlow's logs would fill a pipe
        process = psutil.Popen([sys.executable, __file__, *args], stdout=log, stderr=subprocess.STDOUT)
        peak = 0
        while process.poll() is None:
            try:
                peak = max(peak, sum(p.memory_info().rss for p in [process, *process.children(recursive=True)] if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)
        log.seek(0)
        out = log.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"phase {args} failed ({process.returncode}): {out[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak / 2**20


def phase(root: Path, out: Path, previous: str | None, workers: int) -> dict:
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts

    from dermflow.components.artifact_types import IngestReport
    from dermflow.components.isic_example_gen.executor import Executor
    from dermflow.config import load_config
    from dermflow.isic.ingest_report import read_report

    cfg = load_config(overrides=[f"data.data_root={root}", "beam.direct_running_mode=multi_processing",
                                 f"beam.direct_num_workers={workers}"])
    examples, report = standard_artifacts.Examples(), IngestReport()
    examples.uri, report.uri = str(out / "examples"), str(out / "report")
    inputs = {}
    if previous:
        before = standard_artifacts.Examples()
        before.uri = previous
        inputs["previous_examples"] = [before]
    executor = Executor(BaseBeamExecutor.Context(beam_pipeline_args=cfg.beam.pipeline_args()))
    start, cpu = time.perf_counter(), cpu_seconds()
    executor.Do(inputs, {"examples": [examples], "ingest_report": [report]}, {"config_json": cfg.to_json()})
    seconds = time.perf_counter() - start
    done = read_report(report.uri)
    return {"seconds": seconds, "cpu_seconds": cpu_seconds() - cpu, "examples": done["totals"]["examples"],
            "spans": [(s["name"], s["action"], s["examples"]) for s in done["spans"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase-root", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--previous")
    parser.add_argument("--n", type=int, default=25_000)
    parser.add_argument("--span", type=int, default=1_000)
    parser.add_argument("--unique", type=int, default=300)
    parser.add_argument("--span-unique", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "dermflow_bench_incremental")
    args = parser.parse_args()
    if args.phase_root:
        print(json.dumps(phase(args.phase_root, args.out, args.previous, args.workers)))
        return
    print(f"machine: {os.cpu_count()} CPU cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    archive = ensure_synthetic(args.dir / f"archive_n{args.n}_u{args.unique}", args.n, 128, full_size=True, unique=args.unique)
    span = args.dir / f"span_n{args.span}_u{args.span_unique}"
    if not (span / ".complete").exists():
        from dermflow.synthetic.archive_writer import write_archive

        write_archive(span, n=args.span, seed=1, full_size=True, unique=args.span_unique)
        (span / ".complete").write_text("ok")
    link = archive / "spans" / "batch"
    if link.is_symlink():
        link.unlink()
    rows = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as out:
        out = Path(out)
        common = ["--workers", str(args.workers), "--phase-root", str(archive)]
        rows["full"] = run_measured([*common, "--out", str(out / "full")])
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(span)
        try:
            rows["add_span"] = run_measured([*common, "--out", str(out / "add"), "--previous", str(out / "full" / "examples")])
            rows["nothing_new"] = run_measured([*common, "--out", str(out / "again"), "--previous", str(out / "add" / "examples")])
        finally:
            link.unlink()
    summary = {name: {**result, "peak_mb": peak} for name, (result, peak) in rows.items()}
    summary["ratio_add_span_to_full"] = summary["add_span"]["seconds"] / summary["full"]["seconds"]
    summary["ratio_nothing_new_to_full"] = summary["nothing_new"]["seconds"] / summary["full"]["seconds"]
    summary["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
