"""`POST /api/v1/predict` under 1, 4 and 16 concurrent clients, against a bare batched model call, same run.

    python benchmarks/bench_serving.py [--seconds 30] [--clients 1 4 16] [--images 32] [--rss-requests 2000]

Model: the default MobileNetV2 (alpha 1.0) at 225 px, random weights (speed does not depend on
them), exported with its four signatures and pushed to a temp registry. Images: the synthetic
archive at 256 px (JPEG).

Baseline, measured here on the same images: the bare in-process batched call the server makes,
``LesionPredictor.predict`` on already prepared images in batches of ``serve.max_batch_size`` (16),
for ``--seconds``, **before every server period and after the last** (the server idle meanwhile), so
that a machine whose speed drifts moves the baseline with it. Each period's ratio is against the mean
of the bare runs on either side of it, and the spread of all bare runs is reported. The server is a
real ``dermflow serve`` on 127.0.0.1 (a subprocess, default serve settings, its own review
database); each client thread posts images back to back for ``--seconds``. Reported: p50 and p95
latency, throughput, errors (anything but 200); then the server's RSS before and after
``--rss-requests`` more requests (16 clients). Goals (issue 26, a quiet 2-core machine): at 16
clients >= 0.8x the bare call with p95 < 1 s; at 1 client p95 < 250 ms; zero errors; RSS flat
within 10% over 2,000 requests.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from dermflow.config import DataConfig, load_config
from dermflow.imaging.model_input import ImagePathSettings

IMAGE_PATH = ImagePathSettings.from_config(DataConfig())
LABELS = ["MEL", "NV", "BCC"]


def build_registry(root: Path) -> str:
    from dermflow.models import build_classifier, export_model
    from dermflow.models.model_exporter import EXTRAS_DIR, KERAS_FILE
    from dermflow.registry import publish_version

    cfg = load_config(None, ["model.weights=none"])  # MobileNetV2 alpha 1.0 at 225 px: the default
    built = build_classifier(cfg.model, num_classes=len(LABELS))
    export_model(built, LABELS, root / "export", IMAGE_PATH)
    publish_version(root / "registry", cfg.model_name, root / "export", root / "export" / EXTRAS_DIR / KERAS_FILE,
                    LABELS, {}, {}, cfg.to_json())
    return str(root / "registry")


class BareBatched:
    """The bare in-process batched call, loaded and warmed once, measured as often as asked."""

    def __init__(self, spec: str, images: list[bytes], batch: int):
        from dermflow.inference.lesion_predictor import LesionPredictor
        from dermflow.registry import resolve_model

        self.predictor = LesionPredictor.load(resolve_model(spec).saved_model_dir, max_pixels=IMAGE_PATH.max_pixels)
        self.prepared = [self.predictor.prepare(data).data for data in images]  # outside the timing
        self.batch = batch
        self.predictor.predict(self.prepared[:batch])  # warm-up (graph tracing)

    def images_per_second(self, seconds: float) -> float:
        done, start, i = 0, time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            self.predictor.predict([self.prepared[(i + k) % len(self.prepared)] for k in range(self.batch)])
            done += self.batch
            i += self.batch
        return done / (time.perf_counter() - start)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(spec: str, root: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    command = [str(Path(sys.executable).with_name("dermflow")), "serve", "--model", spec, "--port", str(port),
               "--set", f"review.database_url=sqlite:///{root / 'review.sqlite'}"]
    process = subprocess.Popen(command, stdout=open(root / "server.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the server did not start: {(root / 'server.log').read_text()[-2000:]}")


def load(url: str, images: list[bytes], clients: int, seconds: float, requests: int | None = None) -> dict:
    """``clients`` threads posting back to back for ``seconds`` (or until ``requests`` are answered in all)."""
    import httpx

    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    started = iter(range(requests)) if requests is not None else None

    def more() -> bool:
        if started is None:
            return time.perf_counter() < stop
        with lock:
            return next(started, None) is not None

    def client(index: int) -> None:
        with httpx.Client(timeout=120) as http:
            i = index
            while more():
                data = images[i % len(images)]
                i += clients
                began = time.perf_counter()
                try:
                    status = http.post(url + "/api/v1/predict", files={"file": ("x.jpg", data)}).status_code
                except httpx.HTTPError:
                    status = -1
                took = time.perf_counter() - began
                with lock:
                    (latencies if status == 200 else errors).append(took if status == 200 else status)

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = np.sort(latencies) if latencies else np.array([float("nan")])
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "throughput": len(latencies) / wall,
            "p50": float(np.percentile(ordered, 50)), "p95": float(np.percentile(ordered, 95))}


def spread(values: list[float]) -> str:
    low, high, mean = min(values), max(values), float(np.mean(values))
    return f"{len(values)} runs, mean {mean:.1f} img/s, min {low:.1f}, max {high:.1f} ({(high - low) / mean * 100:.0f}% of the mean)"


def measure(url: str, bare: BareBatched, images: list[bytes], clients_list: list[int], seconds: float) -> tuple[list[dict], list[float]]:
    """Bare, server period, bare, server period, ..., bare: each period's ratio against its neighbours' mean."""
    bare_runs = [bare.images_per_second(seconds)]
    rows = []
    for clients in clients_list:
        row = load(url, images, clients, seconds)
        bare_runs.append(bare.images_per_second(seconds))
        row["bare"] = (bare_runs[-2] + bare_runs[-1]) / 2.0
        row["ratio"] = row["throughput"] / row["bare"]
        rows.append(row)
        print(f"{clients:>3} clients: {row['throughput']:.1f} req/s ({row['ratio']:.2f}x the bare call around it, "
              f"{row['bare']:.1f} img/s), p50 {row['p50'] * 1000:.0f} ms, p95 {row['p95'] * 1000:.0f} ms, "
              f"{row['requests']} answered, {row['errors']} errors", flush=True)
    return rows, bare_runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--rss-requests", type=int, default=2000, help="Requests the RSS is watched over (16 clients).")
    args = parser.parse_args()

    import psutil

    from dermflow.synthetic.archive_writer import write_archive

    with tempfile.TemporaryDirectory(prefix="bench_serving_") as tmp:
        root = Path(tmp)
        write_archive(root / "archive", n=args.images, seed=0, image_size=256)
        images = [p.read_bytes() for p in sorted((root / "archive" / DataConfig().images_dir).glob("*.jpg"))][: args.images]
        spec = build_registry(root)
        print(f"machine: {os.cpu_count()} CPUs; load before: {os.getloadavg()[0]:.2f}", flush=True)
        bare = BareBatched(spec, images, batch=load_config().serve.max_batch_size)
        process, url = start_server(spec, root)
        server = psutil.Process(process.pid)
        try:
            load(url, images, max(args.clients), 5.0)  # warm-up at the highest concurrency: the allocator reaches its batch working set
            rows, bare_runs = measure(url, bare, images, args.clients, args.seconds)
            rss_start = server.memory_info().rss
            rss_run = load(url, images, 16, float("inf"), requests=args.rss_requests)
            rss_end = server.memory_info().rss
        finally:
            process.terminate()
            process.wait(30)
        print(f"bare batched LesionPredictor.predict (batch 16), between the server periods: {spread(bare_runs)}")
        by_clients = {row["clients"]: row for row in rows}
        if 16 in by_clients:
            print(f"16 clients: {by_clients[16]['ratio']:.2f}x the bare call (goal >= 0.8), p95 {by_clients[16]['p95'] * 1000:.0f} ms (goal < 1000)")
        if 1 in by_clients:
            print(f" 1 client : p95 {by_clients[1]['p95'] * 1000:.0f} ms (goal < 250)")
        print(f"server RSS over {rss_run['requests']} requests ({rss_run['errors']} errors): {rss_start / 2**20:.0f} MiB -> "
              f"{rss_end / 2**20:.0f} MiB ({(rss_end / rss_start - 1) * 100:+.1f}%, goal within 10%); "
              f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
