"""Shortcut learning on the real ISIC sample: artefact flip rates, balanced accuracy and Grad-CAM mass, remedy vs none.

    python benchmarks/bench_artefacts.py --work-dir var/bench_artefacts --variants none augment inpaint \
        --seeds 0 1 2 --set train.preset=fast
    python benchmarks/bench_artefacts.py --work-dir var/bench_artefacts --variants none augment --seeds 0 \
        --set train.preset=full            # another work dir per preset; runs already done are kept (resumable)

Ingests ``../shared/data/isic2019-dev`` once (IsicExampleGen -> ClassFilter by LocalDagRunner: the
default lesion-grouped split, eval 15%, test 20%), then for each variant and seed runs the Trainer's
``run_fn`` on it, the ArtefactCheck's ``run_check`` on the eval split (the split the Evaluator uses;
``eval.artefact_check_images`` per class, every artefact kind), and scores the eval and test splits
clean through ``LesionPredictor`` (the scoring path: probabilities, Grad-CAM share inside the Otsu
lesion mask, peak off the lesion). Variants:

- ``none``: the baseline, measured in the same run (``train.artefact_augmentation=false``);
- ``augment``: ``train.artefact_augmentation=true`` (random artefacts on every class);
- ``inpaint``: ``model.inpaint_artefacts=true`` (thin dark structures closed in the model's input layer);
- ``both``: the two together.

Figures (``<work>/artefact_figures.json`` and a table): per variant, artefact and class the flip rate
pooled over seeds with a Wilson 95% interval (and per seed); clean balanced accuracy on eval and test
with a paired bootstrap 95% interval of (variant - none), seeds averaged inside each draw of images;
the median Grad-CAM mass inside the lesion on clean eval images, with a bootstrap interval of the
difference; among the 100 most confident melanoma calls on test, the share whose Grad-CAM peak lies
off the lesion (the issue's "peak on the ruler" figure, on natural artefacts).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from dermflow.config import DermflowConfig, load_config

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "isic2019-dev"
VARIANTS = {
    "none": ["train.artefact_augmentation=false", "model.inpaint_artefacts=false"],
    "augment": ["train.artefact_augmentation=true", "model.inpaint_artefacts=false"],
    "inpaint": ["train.artefact_augmentation=false", "model.inpaint_artefacts=true"],
    "both": ["train.artefact_augmentation=true", "model.inpaint_artefacts=true"],
}
DRAWS = 2000
TOP_MEL = 100
REENCODED = "re-encoding only"


def ingest(cfg: DermflowConfig) -> Path:
    """IsicExampleGen -> ClassFilter once; returns the filtered examples' folder (with Split-train, -eval, -test)."""
    done = sorted((cfg.paths.resolved_pipeline_root() / "ClassFilter" / "filtered_examples").glob("*/Split-eval"))
    if done:
        return done[-1].parent
    from tfx import v1 as tfx

    from dermflow.components.class_filter.component import ClassFilter
    from dermflow.components.isic_example_gen.component import IsicExampleGen

    example_gen = IsicExampleGen(config_json=cfg.to_json())
    class_filter = ClassFilter(examples=example_gen.outputs["examples"], config_json=cfg.to_json())
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="bench_artefacts", pipeline_root=str(cfg.paths.resolved_pipeline_root()),
        components=[example_gen, class_filter],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(cfg.paths.resolved_metadata_path())),
        beam_pipeline_args=cfg.beam.pipeline_args(),
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return ingest(cfg)


def train_and_check(cfg: DermflowConfig, examples: Path, run_dir: Path) -> dict:
    """run_fn, then the artefact check and the clean scoring pass; ``result.json`` in ``run_dir`` (kept: resumable)."""
    result_file = run_dir / "result.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    from tfx.components.trainer.fn_args_utils import FnArgs

    from dermflow.components.artefact_check.executor import run_check
    from dermflow.pipelines.training.trainer_module import run_fn

    serving = run_dir / "serving"
    wall, cpu = time.perf_counter(), time.process_time()
    if not (serving / "saved_model.pb").is_file():
        run_fn(FnArgs(train_files=[str(examples / "Split-train" / "*")], eval_files=[str(examples / "Split-eval" / "*")],
                      serving_model_dir=str(serving), model_run_dir=str(run_dir / "model_run"),
                      custom_config={"config_json": cfg.to_json()}))
    trainer = {"wall_seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
    labels = cfg.labels.label_names()
    wall = time.perf_counter()
    report = run_check(cfg, serving, str(examples / "Split-eval"), labels, run_dir / "check")
    check_seconds = time.perf_counter() - wall
    clean = {split: score_clean(cfg, serving, examples / f"Split-{split}") for split in ("eval", "test")}
    for split, arrays in clean.items():
        np.savez_compressed(run_dir / f"clean_{split}.npz", **arrays)
    result = {"trainer": trainer, "check_seconds": check_seconds, "passed": report["passed"],
              "reason": report["reason"], "history": json.loads((run_dir / "model_run" / "history.json").read_text())}
    result_file.write_text(json.dumps(result, indent=1))
    return result


def score_clean(cfg: DermflowConfig, serving: Path, split: Path) -> dict:
    """Every image of a split as ingested, through LesionPredictor: labels, probabilities, Grad-CAM vs lesion."""
    import tensorflow as tf

    from dermflow.inference.lesion_predictor import LesionPredictor

    spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64),
            "image_id": tf.io.FixedLenFeature([], tf.string)}
    files = sorted(str(p) for p in split.glob("*"))
    records = [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    predictor = LesionPredictor.load(serving, cfg.score.max_image_pixels)
    images = [r["image"].numpy() for r in records]
    predictions = [p for start in range(0, len(images), 32) for p in predictor.predict(images[start:start + 32])]
    nan = float("nan")
    return {
        "image_ids": np.array([r["image_id"].numpy().decode() for r in records]),
        "labels": np.array([int(r["label"]) for r in records]),
        "probabilities": np.stack([p.probabilities for p in predictions]),
        "gradcam_in_lesion": np.array([nan if p.gradcam_in_lesion is None else p.gradcam_in_lesion for p in predictions]),
        "off_lesion": np.array([nan if p.attention_off_lesion is None else float(p.attention_off_lesion) for p in predictions]),
    }


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    recalls = [np.mean(predicted[labels == c] == c) for c in range(classes) if (labels == c).any()]
    return float(np.mean(recalls))


def paired_bootstrap(labels: np.ndarray, remedy: list[np.ndarray], baseline: list[np.ndarray], classes: int,
                     draws: int = DRAWS, seed: int = 0) -> dict:
    """(mean over seeds of BMA(remedy)) - (the same for baseline), on the same images; 95% percentile interval."""
    def difference(rows: np.ndarray) -> float:
        return (np.mean([balanced_accuracy(labels[rows], p[rows], classes) for p in remedy])
                - np.mean([balanced_accuracy(labels[rows], p[rows], classes) for p in baseline]))

    rng = np.random.default_rng(seed)
    everything = np.arange(len(labels))
    samples = [difference(rng.integers(0, len(labels), len(labels))) for _ in range(draws)]
    return {"difference": round(difference(everything), 4),
            "interval": [round(float(np.percentile(samples, 2.5)), 4), round(float(np.percentile(samples, 97.5)), 4)]}


def median_interval(values: np.ndarray, draws: int = DRAWS, seed: int = 0) -> dict:
    values = values[np.isfinite(values)]
    rng = np.random.default_rng(seed)
    samples = [np.median(values[rng.integers(0, len(values), len(values))]) for _ in range(draws)]
    return {"median": round(float(np.median(values)), 4), "n": int(len(values)),
            "interval": [round(float(np.percentile(samples, 2.5)), 4), round(float(np.percentile(samples, 97.5)), 4)]}


def flip_figures(work: Path, variant: str, seeds: list[int]) -> dict:
    """Per kind and class: flips pooled over seeds with a Wilson interval, and the per-seed rates."""
    from dermflow.evaluation.artefact_summary import wilson_interval

    pooled: dict = {}
    for seed in seeds:
        report = json.loads((work / "runs" / f"{variant}-s{seed}" / "check" / "artefact_check.json").read_text())
        for kind, figures in report["artefacts"].items():
            for name, c in figures["per_class"].items():
                entry = pooled.setdefault(kind, {}).setdefault(name, {"flips": 0, "n": 0, "per_seed": [], "to": {}})
                entry["flips"] += c["flips"]
                entry["n"] += c["n"]
                entry["per_seed"].append(c["flip_rate"])
                for to, count in c["flipped_to"].items():
                    entry["to"][to] = entry["to"].get(to, 0) + count
            pooled[kind]["_balanced_per_seed"] = pooled[kind].get("_balanced_per_seed", []) + [figures["flip_rate"]]
        # The noise floor: the control (re-encoded, nothing pasted) against the bytes the Evaluator scored.
        measured = np.load(work / "runs" / f"{variant}-s{seed}" / "check" / "measurements.npz")
        predicted = measured["probabilities"].argmax(axis=-1)
        for index, name in enumerate(report["labels"]):
            rows = measured["labels"] == index
            entry = pooled.setdefault(REENCODED, {}).setdefault(name, {"flips": 0, "n": 0, "per_seed": [], "to": {}})
            flips = int((predicted[rows, 1] != predicted[rows, 0]).sum())
            entry["flips"] += flips
            entry["n"] += int(rows.sum())
            entry["per_seed"].append(round(flips / max(1, int(rows.sum())), 4))
    for kind, classes in pooled.items():
        for name, entry in classes.items():
            if name.startswith("_"):
                continue
            entry["rate"] = round(entry["flips"] / entry["n"], 4)
            entry["interval"] = [round(v, 4) for v in wilson_interval(entry["flips"], entry["n"])]
    return pooled


def load_clean(work: Path, variant: str, seeds: list[int], split: str) -> list[dict]:
    return [dict(np.load(work / "runs" / f"{variant}-s{seed}" / f"clean_{split}.npz")) for seed in seeds]


def attention_figures(clean: list[dict], positive: int) -> dict:
    mass = np.nanmean(np.stack([c["gradcam_in_lesion"] for c in clean]), axis=0)
    off = []
    for c in clean:
        top = np.argsort(-c["probabilities"][:, positive])
        top = [i for i in top if c["probabilities"][i].argmax() == positive][:TOP_MEL]
        off.append(float(np.nanmean(c["off_lesion"][top])) if top else float("nan"))
    return {"lesion_mass": median_interval(mass), "top_mel_off_lesion": [round(v, 3) for v in off], "mass_per_image": mass}


def aggregate(cfg: DermflowConfig, work: Path, variants: list[str], seeds: list[int]) -> dict:
    labels = cfg.labels.label_names()
    positive = labels.index(cfg.labels.positive_label)
    figures: dict = {"labels": labels, "seeds": seeds, "variants": {}}
    clean = {v: {s: load_clean(work, v, seeds, s) for s in ("eval", "test")} for v in variants}
    for variant in variants:
        entry = {"flips": flip_figures(work, variant, seeds)}
        for split in ("eval", "test"):
            runs = clean[variant][split]
            entry[f"{split}_balanced_accuracy"] = [round(balanced_accuracy(r["labels"], r["probabilities"].argmax(1), len(labels)), 4)
                                                   for r in runs]
            if variant != "none" and "none" in clean:
                base = clean["none"][split]
                entry[f"{split}_bma_minus_none"] = paired_bootstrap(
                    runs[0]["labels"], [r["probabilities"].argmax(1) for r in runs],
                    [r["probabilities"].argmax(1) for r in base], len(labels))
        attention = attention_figures(clean[variant]["eval"], positive)
        entry["eval_lesion_mass"] = attention["lesion_mass"]
        entry["test_top_mel_off_lesion"] = attention_figures(clean[variant]["test"], positive)["top_mel_off_lesion"]
        if variant != "none" and "none" in clean:
            base = attention_figures(clean["none"]["eval"], positive)["mass_per_image"]
            entry["eval_lesion_mass_minus_none"] = median_interval(attention["mass_per_image"] - base)
        entry["runs"] = {seed: json.loads((work / "runs" / f"{variant}-s{seed}" / "result.json").read_text())["trainer"]
                         for seed in seeds}
        figures["variants"][variant] = entry
    return figures


def print_table(figures: dict, kinds: list[str]) -> None:
    labels = figures["labels"]
    for variant, entry in figures["variants"].items():
        print(f"\n== {variant} (seeds {figures['seeds']}) ==")
        print(f"balanced accuracy eval {entry['eval_balanced_accuracy']}, test {entry['test_balanced_accuracy']}")
        for split in ("eval", "test"):
            if f"{split}_bma_minus_none" in entry:
                d = entry[f"{split}_bma_minus_none"]
                print(f"  {split} BMA - none: {d['difference']:+.4f} [{d['interval'][0]:+.4f}, {d['interval'][1]:+.4f}]")
        m = entry["eval_lesion_mass"]
        print(f"Grad-CAM mass in lesion (eval, median): {m['median']:.3f} [{m['interval'][0]:.3f}, {m['interval'][1]:.3f}] n={m['n']}")
        if "eval_lesion_mass_minus_none" in entry:
            d = entry["eval_lesion_mass_minus_none"]
            print(f"  median per-image difference to none: {d['median']:+.3f} [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}]")
        print(f"top-{TOP_MEL} MEL calls on test with the Grad-CAM peak off the lesion, per seed: {entry['test_top_mel_off_lesion']}")
        print("flip rate pooled over seeds [Wilson 95%] (per seed) -> to:")
        for kind in kinds:
            cells = []
            for name in labels:
                c = entry["flips"].get(kind, {}).get(name)
                if c:
                    cells.append(f"{name} {100 * c['rate']:.1f}% [{100 * c['interval'][0]:.1f}, {100 * c['interval'][1]:.1f}] "
                                 f"({', '.join(f'{100 * r:.1f}' for r in c['per_seed'])}) {c['to'] or ''}")
            print(f"  {kind:13s} " + " | ".join(cells))


def markdown(figures: dict, kinds: list[str]) -> str:
    """The docs' tables: flip rates per variant, artefact and class; accuracy and Grad-CAM per variant."""
    labels, variants = figures["labels"], figures["variants"]
    lines = ["| artefact | class | " + " | ".join(variants) + " |", "|---|---|" + "---|" * len(variants)]
    for kind in kinds:
        for name in labels:
            cells = []
            for entry in variants.values():
                c = entry["flips"].get(kind, {}).get(name)
                cells.append(f"{100 * c['rate']:.1f}% [{100 * c['interval'][0]:.1f}, {100 * c['interval'][1]:.1f}]"
                             f" ({c['flips']}/{c['n']})" if c else "")
            lines.append(f"| {kind} | {name} | " + " | ".join(cells) + " |")
    lines += ["", "| variant | eval BMA per seed | test BMA per seed | eval BMA − none | test BMA − none | "
              "Grad-CAM mass in lesion, eval median | − none (median per image) | top-100 MEL calls on test, peak off lesion |",
              "|---|---|---|---|---|---|---|---|"]
    for variant, entry in variants.items():
        diff = {split: entry.get(f"{split}_bma_minus_none") for split in ("eval", "test")}
        shown = {split: f"{d['difference']:+.4f} [{d['interval'][0]:+.4f}, {d['interval'][1]:+.4f}]" if d else "—"
                 for split, d in diff.items()}
        mass, mass_diff = entry["eval_lesion_mass"], entry.get("eval_lesion_mass_minus_none")
        lines.append(
            f"| {variant} | {entry['eval_balanced_accuracy']} | {entry['test_balanced_accuracy']} | {shown['eval']} | "
            f"{shown['test']} | {mass['median']:.3f} [{mass['interval'][0]:.3f}, {mass['interval'][1]:.3f}] | "
            + (f"{mass_diff['median']:+.3f} [{mass_diff['interval'][0]:+.3f}, {mass_diff['interval'][1]:+.3f}]" if mass_diff else "—")
            + f" | {entry['test_top_mel_off_lesion']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--work-dir", type=Path, required=True, help="Kept between calls: finished runs are reused.")
    parser.add_argument("--variants", nargs="+", default=["none", "augment"], choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--figures-only", action="store_true", help="Aggregate the finished runs; train nothing.")
    args = parser.parse_args(argv)
    if not (args.data_root / "ISIC_2019_Training_GroundTruth.csv").is_file():
        print(f"skipped: no ISIC sample at {args.data_root} (--data-root DIR)", file=sys.stderr)
        return 2
    base = [f"data.data_root={args.data_root}", f"paths.work_dir={args.work_dir / 'ingest'}",
            "eval.max_artefact_flip_rate=0.05", *args.overrides]
    cfg = load_config(overrides=base)
    if not args.figures_only:
        examples = ingest(cfg)
        for variant in args.variants:
            for seed in args.seeds:
                run_dir = args.work_dir / "runs" / f"{variant}-s{seed}"
                run_cfg = load_config(overrides=[*base, *VARIANTS[variant], f"train.seed={seed}",
                                                 f"paths.work_dir={run_dir / 'work'}"])
                started = time.perf_counter()
                result = train_and_check(run_cfg, examples, run_dir)
                print(f"{variant} seed {seed}: {result['reason']} ({time.perf_counter() - started:.0f} s)", flush=True)
    figures = aggregate(cfg, args.work_dir, args.variants, args.seeds)
    (args.work_dir / "artefact_figures.json").write_text(json.dumps(figures, indent=1, default=float))
    kinds = [*cfg.eval.artefact_kinds, REENCODED]
    print_table(figures, kinds)
    (args.work_dir / "artefact_figures.md").write_text(markdown(figures, kinds))
    print(f"\nfigures: {args.work_dir / 'artefact_figures.json'} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
