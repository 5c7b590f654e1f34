"""The local cluster: start-up time, and scoring throughput with 1 Celery worker against 2.

    python benchmarks/bench_cluster_scoring.py [--images 400] [--shards 2]

Starts a fresh cluster (its own state dir, ``var/bench-cluster``) with one ``default`` worker
(concurrency 1) and times ``up``. Then runs the scoring DAG, through the scheduler, with
``--shards`` shards on the same folder twice, each time into a fresh output folder (so nothing is
skipped): first with that one worker (the shards run one after the other), then after starting a
second ``default`` worker (the shards can run side by side). Throughput = images / (trigger ->
run success), everything included (scheduling, the task processes, Beam start-up, publishing,
reconciliation). The baseline is the 1-worker run of this same script: the figure is the ratio.

Model: MobileNetV2 alpha 0.35 at 96 px, random weights (speed does not depend on them).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from dermflow.cluster.airflow_rest import AirflowRest
from dermflow.cluster.cluster_manager import REPO_ROOT, cluster_down, cluster_up, start_worker
from dermflow.config import load_config
from dermflow.imaging.model_input import ImagePathSettings

CONFIG = """\
paths: {{work_dir: {root}/work, registry: {root}/registry}}
model: {{image_size: 96, alpha: 0.35, weights: none}}
beam: {{direct_running_mode: in_memory, direct_num_workers: 1}}
score: {{min_batch_size: 32, max_batch_size: 32, gallery_size: 4}}
airflow: {{score_output: {root}/scores, retries: 0}}
cluster: {{state_dir: {state}, default_workers: 1, worker_concurrency: 1}}
"""


def build_registry(root: Path, cfg) -> str:
    from dermflow.models import build_classifier, export_model
    from dermflow.models.model_exporter import EXTRAS_DIR, KERAS_FILE
    from dermflow.registry import publish_version

    built = build_classifier(cfg.model, num_classes=3)
    export_model(built, ["MEL", "NV", "BCC"], root / "export", ImagePathSettings.from_config(cfg.data))
    publish_version(root / "registry", cfg.model_name, root / "export", root / "export" / EXTRAS_DIR / KERAS_FILE,
                    ["MEL", "NV", "BCC"], {}, {}, cfg.to_json())
    return str(root / "registry")


def score_once(api: AirflowRest, images: Path, output: Path, registry: str, shards: int) -> float:
    conf = {"input": [str(images)], "output": str(output), "model": registry, "shards": shards}
    start = time.perf_counter()
    run_id = api.trigger("dermflow_score", conf)
    api.wait_for_run("dermflow_score", run_id, timeout=1800)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--shards", type=int, default=2)
    args = parser.parse_args()

    from dermflow.synthetic.archive_writer import write_archive

    root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    state = REPO_ROOT / "var" / "bench-cluster"
    shutil.rmtree(state, ignore_errors=True)
    (root / "dermflow.yaml").write_text(CONFIG.format(root=root, state=state))
    cfg = load_config(root / "dermflow.yaml")
    write_archive(root / "archive", n=args.images, seed=0, image_size=128)
    images = root / "archive" / "ISIC_2019_Training_Input"
    registry = build_registry(root, cfg)

    start = time.perf_counter()
    cluster_up(cfg)
    startup = time.perf_counter() - start
    try:
        api = AirflowRest.for_cluster(cfg)
        api.wait_for_dag("dermflow_score", timeout=300)
        api.unpause("dermflow_score")
        one = score_once(api, images, root / "scores-1", registry, args.shards)
        start_worker(cfg, "default-2")
        two = score_once(api, images, root / "scores-2", registry, args.shards)
    finally:
        cluster_down(cfg, check=False)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)

    print(f"machine: {os.cpu_count()} CPU cores; {args.images} images (128 px JPEG), {args.shards} shards, "
          "MobileNetV2 alpha 0.35 at 96 px")
    print(f"cluster start-up (Postgres, Redis, db migrate, api-server, scheduler, dag-processor, 2 workers): {startup:.1f} s")
    print(f"1 worker : {one:7.1f} s  {args.images / one:6.1f} img/s  (baseline)")
    print(f"2 workers: {two:7.1f} s  {args.images / two:6.1f} img/s  = {one / two:.2f}x the baseline")


if __name__ == "__main__":
    main()
