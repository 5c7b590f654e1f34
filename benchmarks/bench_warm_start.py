"""Warm start against a from-scratch retrain, on the real ISIC sample (issue 27; docs/benchmarks.md).

    nice -n 5 python benchmarks/bench_warm_start.py [--data-root DIR] [--seeds 0 1 2] [--work-dir DIR] [--set key=value ...]

1. The real sample's lesion-grouped split (``data.eval_fraction`` 0.15, ``data.test_fraction`` 0.2,
   ``data.split_seed`` 0) is computed once; 20 % of its **training** lesions (by a hash of the lesion
   key) are held back. A data root of links (no image is copied) holds the rest as its base archive.
2. Per seed: IsicExampleGen -> ClassFilter -> Trainer, from ImageNet, on the base ("before").
3. The held-back images land as ``spans/later``; the same pipeline (its ML Metadata) ingests only that
   span, the base reused and its test split frozen, and trains twice on everything: **warm**
   (``train.warm_start: last_blessed``, the seed's "before" model as the Trainer's ``base_model``, the
   ``retrain.warm_start_*`` schedule) and **scratch** (``train.warm_start: none``, from ImageNet).
4. Both models score the same fixed test split. Per seed: the balanced accuracy of each and the
   Trainer's CPU seconds (process CPU, every thread: ``timed_run_fn``); over the seeds: the mean
   (warm - scratch) difference and its paired-bootstrap 95 % interval (test images resampled with
   replacement, the same resample for every seed and both models).

Goals (issue 27): warm CPU <= 1/3 of scratch; the interval's point >= -0.01 and lower end > -0.03.
Results go to ``<work dir>/warm_start.json``; a seed already done there is not run again.
Preset: ``train.preset=fast`` unless ``--set`` says otherwise.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from dermflow.config import DermflowConfig, load_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_accuracy_isic_dev import DEFAULT_DATA_ROOT, TRAINER_CPU_FILE, newest  # noqa: E402

HELD_BACK = 0.2
SPAN = "later"
BOOTSTRAP = 2000


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def write_folder(folder: Path, source: Path, cfg: DermflowConfig, ids: set[str], tables) -> None:
    images = folder / cfg.data.images_dir
    images.mkdir(parents=True)
    for file in (source / cfg.data.images_dir).iterdir():
        if file.stem in ids:
            (images / file.name).symlink_to(file)
    for name, (header, rows) in tables.items():
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, header)
            writer.writeheader()
            writer.writerows(row for row in rows if row["image"] in ids)


def make_data_root(source: Path, root: Path, cfg: DermflowConfig) -> dict:
    """Links the sample into ``root`` minus the held-back training lesions; returns the held-back span's folder and size."""
    from dermflow.isic.csv_reader import read_isic_csvs
    from dermflow.isic.lesion_split import SplitItem, assign_splits, group_key, unit_hash

    data = cfg.data
    table = read_isic_csvs(source / data.ground_truth_csv, source / data.metadata_csv)
    items = [SplitItem(r.image_id, r.lesion_id, r.diagnosis) for r in table.records]
    splits = assign_splits(items, data.eval_fraction, data.test_fraction, data.split_seed)
    held = {i.image_id for i in items if splits[i.image_id] == "train" and unit_hash(7, "hold:" + group_key(i)) < HELD_BACK}
    everything = {i.image_id for i in items}
    tables = {name: read_rows(source / name) for name in (data.ground_truth_csv, data.metadata_csv)}
    if not root.exists():
        write_folder(root, source, cfg, everything - held, tables)
        write_folder(root / "held-back" / SPAN, source, cfg, held, tables)
    return {"held_back": len(held), "train_images": sum(v == "train" for v in splits.values()), "all": len(everything)}


def run(cfg: DermflowConfig, seed_dir: Path, base_model: str | None) -> dict:
    """One pipeline run (the seed's pipeline and ML Metadata); returns the Trainer's model dir and CPU seconds."""
    from tfx import v1 as tfx
    from tfx.proto import trainer_pb2

    from dermflow.components.class_filter.component import ClassFilter
    from dermflow.components.isic_example_gen.component import IsicExampleGen
    from dermflow.components.isic_example_gen.previous_ingest import LatestIngestStrategy
    from dermflow.pipelines.training.trainer_module import CONFIG_KEY

    previous = tfx.dsl.Resolver(strategy_class=LatestIngestStrategy, examples=tfx.dsl.Channel(
        type=tfx.types.standard_artifacts.Examples, producer_component_id="IsicExampleGen", output_key="examples",
    )).with_id("LatestExamplesResolver")
    example_gen = IsicExampleGen(cfg.to_json(), previous.outputs["examples"]).with_id("IsicExampleGen")
    class_filter = ClassFilter(examples=example_gen.outputs["examples"], config_json=cfg.to_json()).with_id("ClassFilter")
    components = [previous, example_gen, class_filter]
    importer = None
    if base_model:
        importer = tfx.dsl.Importer(source_uri=base_model, artifact_type=tfx.types.standard_artifacts.Model,
                                    reimport=False).with_id("BaseModel")
        components.append(importer)
    trainer = tfx.components.Trainer(
        run_fn="bench_accuracy_isic_dev.timed_run_fn", examples=class_filter.outputs["filtered_examples"],
        base_model=importer.outputs["result"] if importer else None,
        train_args=trainer_pb2.TrainArgs(splits=["train"]), eval_args=trainer_pb2.EvalArgs(splits=["eval"]),
        custom_config={CONFIG_KEY: cfg.to_json()},
    ).with_id("Trainer")
    pipeline = tfx.dsl.Pipeline(
        pipeline_name=cfg.pipeline_name, pipeline_root=str(seed_dir / "tfx"), components=components + [trainer],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(str(seed_dir / "mlmd.sqlite")),
        beam_pipeline_args=cfg.beam.pipeline_args(),
    )
    cpu, wall = time.process_time(), time.perf_counter()
    tfx.orchestration.LocalDagRunner().run(pipeline)
    run_dir = newest("Trainer/model_run/*", seed_dir / "tfx")
    return {"model": str(newest("Trainer/model/*", seed_dir / "tfx")),
            "trainer": json.loads((run_dir / TRAINER_CPU_FILE).read_text()),
            "pipeline_cpu_seconds": time.process_time() - cpu, "pipeline_wall_seconds": time.perf_counter() - wall,
            "epochs": len(json.loads((run_dir / "history.json").read_text()))}


def test_predictions(model_dir: str, seed_dir: Path, batch_size: int) -> dict:
    """image id -> (label, predicted) on the newest filtered examples' test split."""
    from dermflow.models import load_keras_model
    from dermflow.pipelines.training.trainer_calibration import read_head_outputs

    model = load_keras_model(Path(model_dir) / "Format-Serving" / "assets.extra" / "model.keras")
    split = newest("ClassFilter/filtered_examples/*", seed_dir / "tfx") / "Split-test"
    outputs = read_head_outputs(model, [str(split / "*")], batch_size)
    return {image: (int(label), int(logits.argmax())) for image, label, logits in
            zip(outputs.image_ids, outputs.labels, outputs.logits)}


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    recalls = [(predicted[truth == c] == c).mean() for c in np.unique(truth)]
    return float(np.mean(recalls))


def paired_bootstrap(seeds: list[dict], resamples: int = BOOTSTRAP) -> dict:
    """Mean over seeds of BA(warm) - BA(scratch), and its percentile 95 % interval over test-image resamples."""
    ids = sorted(seeds[0]["warm_predictions"])
    truth = np.array([seeds[0]["warm_predictions"][i][0] for i in ids])
    warm = [np.array([s["warm_predictions"][i][1] for i in ids]) for s in seeds]
    scratch = [np.array([s["scratch_predictions"][i][1] for i in ids]) for s in seeds]
    point = float(np.mean([balanced_accuracy(truth, w) - balanced_accuracy(truth, c) for w, c in zip(warm, scratch)]))
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(resamples):
        index = rng.integers(0, len(ids), len(ids))
        draws.append(np.mean([balanced_accuracy(truth[index], w[index]) - balanced_accuracy(truth[index], c[index])
                              for w, c in zip(warm, scratch)]))
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"test_images": len(ids), "mean_difference": point, "low": float(low), "high": float(high)}


def run_seed(cfg: DermflowConfig, work: Path, data_root: Path, seed: int) -> dict:
    seed_dir = work / f"seed{seed}"
    seed_cfg = cfg.model_copy(update={"pipeline_name": f"bench_warm_start_{seed}", "train": cfg.train.model_copy(
        update={"seed": seed, "warm_start": "none"}), "paths": cfg.paths.model_copy(update={"work_dir": seed_dir})})
    span = data_root / "spans" / SPAN
    if span.exists():
        span.unlink()
    before = run(seed_cfg, seed_dir, None)
    span.parent.mkdir(exist_ok=True)
    span.symlink_to(data_root / "held-back" / SPAN)
    warm_cfg = seed_cfg.model_copy(update={"train": seed_cfg.train.model_copy(update={"warm_start": "last_blessed"})})
    warm = run(warm_cfg, seed_dir, before["model"])
    warm_predictions = test_predictions(warm["model"], seed_dir, cfg.train.batch_size)
    scratch = run(seed_cfg, seed_dir, None)
    scratch_predictions = test_predictions(scratch["model"], seed_dir, cfg.train.batch_size)
    span.unlink()
    ids = sorted(warm_predictions)
    truth = np.array([warm_predictions[i][0] for i in ids])
    result = {"seed": seed, "before": before, "warm": warm, "scratch": scratch,
              "warm_balanced_accuracy": balanced_accuracy(truth, np.array([warm_predictions[i][1] for i in ids])),
              "scratch_balanced_accuracy": balanced_accuracy(truth, np.array([scratch_predictions[i][1] for i in ids])),
              "cpu_ratio": warm["trainer"]["cpu_seconds"] / scratch["trainer"]["cpu_seconds"],
              "warm_predictions": warm_predictions, "scratch_predictions": scratch_predictions}
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_predictions")}), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/dermflow_bench_warm_start"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args(argv)
    if not args.data_root.is_dir():
        print(f"bench_warm_start: skipped, the real sample is not at {args.data_root}")
        return 0
    cfg = load_config(None, ["train.preset=fast", "data.eval_fraction=0.15", "data.test_fraction=0.2",
                             "beam.direct_running_mode=in_memory", "beam.direct_num_workers=1", *args.overrides])
    work = args.work_dir
    data_root = work / "data"
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"data_root": data_root})})
    layout = make_data_root(args.data_root, data_root, cfg)
    results_file = work / "warm_start.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {"seeds": {}}
    results.update(layout=layout, overrides=args.overrides)
    for seed in args.seeds:
        if str(seed) not in results["seeds"]:
            results["seeds"][str(seed)] = run_seed(cfg, work, data_root, seed)
            results_file.write_text(json.dumps(results))
    seeds = [results["seeds"][str(s)] for s in args.seeds]
    summary = {"preset": cfg.train.preset, "cpu_ratio_per_seed": [s["cpu_ratio"] for s in seeds],
               "cpu_ratio_of_sums": sum(s["warm"]["trainer"]["cpu_seconds"] for s in seeds)
               / sum(s["scratch"]["trainer"]["cpu_seconds"] for s in seeds),
               "warm_ba": [s["warm_balanced_accuracy"] for s in seeds],
               "scratch_ba": [s["scratch_balanced_accuracy"] for s in seeds], **paired_bootstrap(seeds)}
    results["summary"] = summary
    results_file.write_text(json.dumps(results))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
