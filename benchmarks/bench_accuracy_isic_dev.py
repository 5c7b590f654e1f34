"""Accuracy of the default training on the real ISIC 2019 sample (../shared/data/isic2019-dev).

    python benchmarks/bench_accuracy_isic_dev.py [--data-root DIR] [--set train.preset=fast ...] [--report-split test]
    python benchmarks/bench_accuracy_isic_dev.py --reuse-outputs WORK/head_outputs.npz --work-dir WORK   # figures only
    python benchmarks/bench_accuracy_isic_dev.py --examples-from WORK0/tfx --skip-path-check --set train.seed=1 \
        --set trust.abstention=hod --set trust.abstention_exclude=[DF] --work-dir WORK1     # the Trainer alone, on an earlier run's examples

With ``--report-split test`` (``data.test_fraction`` > 0, e.g. ``--set data.test_fraction=0.2``) the
figures are those of the lesion-grouped test split, which chose nothing: early stopping and the
settings are chosen on eval. ``trainer_cpu_seconds`` is the Trainer alone (its process CPU time,
every thread; feature cache included), measured by a wrapper around ``run_fn``.

MEL / NV / BCC (the default labels), default model and training settings, IsicExampleGen's
lesion-grouped split (the defaults: ``data.eval_fraction`` 0.15, ``data.test_fraction`` 0.2), then
IsicExampleGen -> ClassFilter -> Trainer by LocalDagRunner. ``--examples-from`` runs the Trainer's
``run_fn`` alone on the ClassFilter output of an earlier run's pipeline root (the same images and
splits, for runs that differ in the training only: seeds, ``trust.abstention``; the abstention
sweep, ``abstention_benchmark.py``). The exported ``.keras``
model is then scored on the eval split through the Trainer's own input pipeline (every image
resized the same way to ``model.image_size``; the source resolution, which correlates with the
class in this sample, is never a feature).

The eval split is then scored twice through the exported SavedModel: as TFMA does (the ingested
tf.Examples through ``serving_default``) and as ``dermflow score`` does (each original file through
``LesionPredictor``: ``prepare_image`` with the settings recorded in the model, then its
``gradcam_images`` signature). With the one image path the two balanced accuracies are equal and no
label differs; both are printed with the count of differing labels and the largest |Δp|.

Then the trust figures (``trust_benchmark.py``, docs/trust.md): logits and pooled features of the
exported model (its ``model.keras``, through ``pipelines.training.trainer_calibration.read_head_outputs``) for
the eval and test splits, targets and the archive's other diagnoses (ClassFilter's out-of-scope
examples); on the test split a 2-fold cross-fit by lesion with the Trainer's own ``fit_trust``, so
that no figure comes from an image used to fit what is applied to it; balanced accuracy, MEL AUC,
ECE before/after, out-of-scope AUROC (the detector and max softmax), flag rate at 95% retention,
conformal coverage and set size, leave-one-class-out AUROC, temperature vs vector scaling, each with
a bootstrap 95% interval and its n. Written to ``<work dir>/trust_figures.json`` (the extracted
outputs to ``head_outputs.npz``; ``--reuse-outputs`` recomputes the figures from them without training).

Prints ISIC balanced multiclass accuracy, per-class recall, melanoma one-vs-rest AUC, and the
Trainer's wall and CPU time. Goals: balanced accuracy >= 0.88 and melanoma AUC >= 0.95 within
60 minutes of CPU training; the baseline to beat clearly is a frozen backbone + logistic
regression at about 0.82 (``bench_weights_linear_probe.py``). Takes up to an hour on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dermflow.config import DermflowConfig, load_config

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "isic2019-dev"


def run_pipeline(cfg: DermflowConfig) -> Path:
    """IsicExampleGen -> ClassFilter -> Trainer; returns the pipeline root."""
    from tfx import v1 as tfx
    from tfx.proto import trainer_pb2

    from dermflow.components.class_filter.component import ClassFilter
    from dermflow.components.isic_example_gen.component import IsicExampleGen
    from dermflow.pipelines.training.trainer_module import CONFIG_KEY

    if str(Path(__file__).resolve().parent) not in map(str, sys.path):
        sys.path.insert(0, str(Path(__file__).resolve().parent))  # for the Trainer's run_fn, timed_run_fn
    example_gen = IsicExampleGen(config_json=cfg.to_json())
    class_filter = ClassFilter(examples=example_gen.outputs["examples"], config_json=cfg.to_json())
    trainer = tfx.components.Trainer(
        run_fn=f"{Path(__file__).stem}.timed_run_fn",  # this script's folder is on sys.path
        examples=class_filter.outputs["filtered_examples"],
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["eval"]),
        custom_config={CONFIG_KEY: cfg.to_json()},
    )
    root = cfg.paths.resolved_pipeline_root()
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="bench_accuracy_isic_dev",
        pipeline_root=str(root),
        components=[example_gen, class_filter, trainer],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(cfg.paths.resolved_metadata_path())
        ),
        beam_pipeline_args=cfg.beam.pipeline_args(),
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return root


TRAINER_CPU_FILE = "trainer_cpu.json"


def timed_run_fn(fn_args) -> None:
    """The Trainer's ``run_fn``, timed: process CPU seconds (all threads) and wall, next to its history."""
    from dermflow.pipelines.training.trainer_module import run_fn

    cpu, wall = time.process_time(), time.perf_counter()
    run_fn(fn_args)
    record = {"cpu_seconds": time.process_time() - cpu, "wall_seconds": time.perf_counter() - wall}
    (Path(fn_args.model_run_dir) / TRAINER_CPU_FILE).write_text(json.dumps(record))


def newest(pattern: str, root: Path) -> Path:
    return max(root.glob(pattern), key=lambda path: path.stat().st_mtime)


def evaluate(cfg: DermflowConfig, root: Path, split: str = "eval", check_paths: bool = True,
             examples_root: Path | None = None) -> dict:
    from sklearn.metrics import roc_auc_score

    from dermflow.models import load_keras_model
    from dermflow.pipelines.training import trainer_input
    from dermflow.pipelines.training.trainer_callbacks import isic_balanced_accuracy, per_class_recall

    labels = cfg.labels.label_names()
    serving = newest("Trainer/model/*/Format-Serving", root)
    eval_split = newest(f"ClassFilter/filtered_examples/*/Split-{split}", examples_root or root)
    model = load_keras_model(serving / "assets.extra" / "model.keras")
    summary = trainer_input.summarize_split([str(eval_split / "*")], len(labels))
    data = trainer_input.eval_dataset(summary, cfg.model.image_size, cfg.train.batch_size)
    truth = np.concatenate([y for _, y in data.as_numpy_iterator()])
    probabilities = model.predict(data.map(lambda x, _: x), verbose=0)[:, : len(labels)]  # targets, renormalised
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    positive = labels.index(cfg.labels.positive_label)
    run_dir = newest("Trainer/model_run/*", root)
    history = json.loads((run_dir / "history.json").read_text())
    trainer_cpu = json.loads((run_dir / TRAINER_CPU_FILE).read_text()) if (run_dir / TRAINER_CPU_FILE).is_file() else {}
    paths = compare_paths(cfg, serving, eval_split) if check_paths else {}
    return {
        **paths,
        "split": split,
        "examples": dict(zip(labels, summary.class_counts)),
        "best_val_balanced_accuracy": max(row.get("val_balanced_accuracy", 0.0) for row in history),
        "trainer_cpu_seconds": trainer_cpu.get("cpu_seconds"),
        "trainer_wall_seconds": trainer_cpu.get("wall_seconds"),
        "balanced_accuracy": isic_balanced_accuracy(truth, predicted),
        "per_class_recall": dict(zip(labels, per_class_recall(truth, predicted, len(labels)))),
        f"{labels[positive]}_auc": float(roc_auc_score(truth == positive, probabilities[:, positive])),
        "epochs": len(history),
        "train_step_seconds": sum(row["train_seconds"] for row in history),
    }


def compare_paths(cfg: DermflowConfig, serving: Path, eval_split: Path) -> dict:
    """BMA of the eval split as TFMA sees it (tf.Example -> serving_default) and as scoring does (file -> predictor)."""
    import tensorflow as tf

    from dermflow.inference.lesion_predictor import LesionPredictor
    from dermflow.pipelines.training.trainer_callbacks import isic_balanced_accuracy

    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in ("image", "image_id")}
    spec["label"] = tf.io.FixedLenFeature([], tf.int64)
    records = tf.data.TFRecordDataset(sorted(str(p) for p in eval_split.glob("*")), compression_type="GZIP")
    serialized = [record.numpy() for record in records]
    parsed = [tf.io.parse_single_example(record, spec) for record in serialized]
    truth = np.array([int(example["label"]) for example in parsed])
    ids = [example["image_id"].numpy().decode() for example in parsed]
    serving_default = tf.saved_model.load(str(serving)).signatures["serving_default"]
    evaluated = np.concatenate([
        serving_default(examples=tf.constant(serialized[start:start + 64]))["probabilities"].numpy()
        for start in range(0, len(serialized), 64)
    ])
    predictor = LesionPredictor.load(serving, cfg.score.max_image_pixels)
    images_dir = cfg.data.data_root / cfg.data.images_dir
    files = [next(images_dir.glob(f"{image_id}.*")) for image_id in ids]
    scored = np.concatenate([
        np.stack([p.probabilities for p in predictor.predict([predictor.prepare(f.read_bytes()).data for f in files[start:start + 32]])])
        for start in range(0, len(files), 32)
    ])
    return {
        "evaluated_path_balanced_accuracy": isic_balanced_accuracy(truth, evaluated.argmax(axis=1)),
        "scoring_path_balanced_accuracy": isic_balanced_accuracy(truth, scored.argmax(axis=1)),
        "scoring_vs_evaluated_label_differences": int((scored.argmax(axis=1) != evaluated.argmax(axis=1)).sum()),
        "scoring_vs_evaluated_max_abs_probability_difference": float(np.abs(scored - evaluated).max()),
    }


OUTPUT_FIELDS = ("logits", "features", "labels", "label_names", "lesion_ids", "image_ids")
HEAD_OUTPUTS_FILE = "head_outputs.npz"
RUN_FILE = "run.json"
TRUST_FIGURES_FILE = "trust_figures.json"


def run_trainer_alone(cfg: DermflowConfig, examples_root: Path, root: Path) -> None:
    """The Trainer's ``run_fn`` (timed) on ``examples_root``'s ClassFilter output, laid out as TFX would under ``root``."""
    from tfx.components.trainer.fn_args_utils import FnArgs

    from dermflow.pipelines.training.trainer_module import CONFIG_KEY

    filtered = newest("ClassFilter/filtered_examples/*", examples_root)
    serving, run_dir = root / "Trainer" / "model" / "1" / "Format-Serving", root / "Trainer" / "model_run" / "1"
    run_dir.mkdir(parents=True, exist_ok=True)
    timed_run_fn(FnArgs(train_files=[str(filtered / "Split-train" / "*")], eval_files=[str(filtered / "Split-eval" / "*")],
                        serving_model_dir=str(serving), model_run_dir=str(run_dir),
                        custom_config={CONFIG_KEY: cfg.to_json()}))


def extract_head_outputs(cfg: DermflowConfig, root: Path, out_file: Path, examples_root: Path | None = None,
                         splits: tuple[str, ...] = ("eval", "test")) -> dict:
    """{split: (targets, others)} of the eval and test splits from the exported model; saved to ``out_file``."""
    from dermflow.isic.out_of_scope_examples import out_of_scope_patterns
    from dermflow.models import load_keras_model
    from dermflow.pipelines.training.trainer_calibration import read_head_outputs

    serving = newest("Trainer/model/*/Format-Serving", root)
    filtered = newest("ClassFilter/filtered_examples/*", examples_root or root)
    model = load_keras_model(serving / "assets.extra" / "model.keras")
    outputs, arrays = {}, {}
    for split in splits:
        patterns = [str(filtered / f"Split-{split}" / "*")]
        pair = (read_head_outputs(model, patterns, cfg.train.batch_size),
                read_head_outputs(model, out_of_scope_patterns(patterns), cfg.train.batch_size))
        outputs[split] = pair
        for kind, images in zip(("targets", "others"), pair):
            for name in OUTPUT_FIELDS:
                arrays[f"{split}/{kind}/{name}"] = getattr(images, name)
    arrays["num_targets"] = np.array(len(cfg.labels.label_names()))
    np.savez_compressed(out_file, **arrays)
    return outputs


def load_head_outputs(path: Path) -> dict:
    from types import SimpleNamespace

    data = np.load(path)
    outputs = {split: tuple(SimpleNamespace(**{name: data[f"{split}/{kind}/{name}"] for name in OUTPUT_FIELDS})
                            for kind in ("targets", "others")) for split in ("eval", "test")
               if f"{split}/targets/logits" in data}
    outputs["num_targets"] = int(data["num_targets"]) if "num_targets" in data else None
    return outputs


def report_trust(cfg: DermflowConfig, outputs: dict, work: Path, draws: int, trainer_calibration: dict | None) -> dict:
    from trust_benchmark import format_table, trust_figures

    labels = cfg.labels.label_names()
    figures = trust_figures(outputs, cfg.trust, labels.index(cfg.labels.positive_label), draws=draws)
    figures["trainer_calibration"] = trainer_calibration
    figures["draws"] = draws
    (work / TRUST_FIGURES_FILE).write_text(json.dumps(figures, indent=2, default=float) + "\n")
    print(format_table(figures, cfg.labels.positive_label))
    print(f"trust figures: {work / TRUST_FIGURES_FILE}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--work-dir", type=Path, help="Default: a new temporary folder.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--report-split", default="eval", choices=["eval", "test"],
                        help="The split scored for the figures; test needs data.test_fraction > 0.")
    parser.add_argument("--bootstrap-draws", type=int, default=None, help="Default: dermflow.trust.bootstrap's.")
    parser.add_argument("--reuse-outputs", type=Path, metavar="NPZ",
                        help=f"Only the trust figures, from a {HEAD_OUTPUTS_FILE} of an earlier run (no training).")
    parser.add_argument("--examples-from", type=Path, metavar="PIPELINE_ROOT",
                        help="Run the Trainer alone on this earlier run's ClassFilter output (no ingest).")
    parser.add_argument("--outputs-only", action="store_true",
                        help=f"Write {HEAD_OUTPUTS_FILE} of the test split only, without the trust figures "
                             "(abstention_benchmark.py reads it).")
    parser.add_argument("--skip-path-check", action="store_true",
                        help="Do not score the eval split again through serving_default and the scoring path.")
    args = parser.parse_args(argv)
    if not args.reuse_outputs and not (args.data_root / "ISIC_2019_Training_GroundTruth.csv").is_file():
        print(f"skipped: no ISIC sample at {args.data_root} (../shared/data/isic2019-dev; --data-root DIR)",
              file=sys.stderr)
        return 2
    from dermflow.trust.bootstrap import DEFAULT_DRAWS

    draws = args.bootstrap_draws or DEFAULT_DRAWS
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench_accuracy_"))
    cfg = load_config(overrides=[f"data.data_root={args.data_root}", f"paths.work_dir={work}", *args.overrides])
    if args.reuse_outputs:
        work.mkdir(parents=True, exist_ok=True)
        report_trust(cfg, load_head_outputs(args.reuse_outputs), work, draws, None)
        return 0

    start = time.perf_counter()
    if args.examples_from:
        root = cfg.paths.resolved_pipeline_root()
        run_trainer_alone(cfg, args.examples_from, root)
    else:
        root = run_pipeline(cfg)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    if args.report_split == "test" and cfg.data.test_fraction <= 0:
        print("--report-split test needs --set data.test_fraction=...", file=sys.stderr)
        return 2
    result = evaluate(cfg, root, args.report_split, not args.skip_path_check, args.examples_from)
    result.update(pipeline_wall_seconds=wall, pipeline_cpu_seconds=cpu)
    print(json.dumps(result, indent=2))
    print(f"ISIC balanced accuracy {result['balanced_accuracy']:.3f} (goal >= 0.88; frozen backbone + logistic "
          f"regression ~0.82), {cfg.labels.positive_label} AUC {result[f'{cfg.labels.positive_label}_auc']:.3f} "
          f"(goal >= 0.95) on {args.report_split}, training steps {result['train_step_seconds'] / 60:.1f} min, "
          f"Trainer {(result['trainer_cpu_seconds'] or float('nan')) / 60:.1f} CPU-min, "
          f"pipeline {wall / 60:.1f} min wall / {cpu / 60:.1f} min CPU")
    (work / RUN_FILE).write_text(json.dumps({**result, "overrides": args.overrides}, indent=2, default=float) + "\n")
    if not args.skip_path_check:
        print(f"eval split through serving_default (TFMA's path) BMA {result['evaluated_path_balanced_accuracy']:.4f}, "
              f"original files through the scoring path BMA {result['scoring_path_balanced_accuracy']:.4f}; "
              f"{result['scoring_vs_evaluated_label_differences']} labels differ, "
              f"max |dp| {result['scoring_vs_evaluated_max_abs_probability_difference']:.2e}")
    if cfg.data.test_fraction <= 0:
        print("trust figures skipped: they need a test split (--set data.test_fraction=0.2)", file=sys.stderr)
        return 0
    serving = newest("Trainer/model/*/Format-Serving", root)
    calibration_file = serving / "assets.extra" / "calibration.json"
    trainer_calibration = json.loads(calibration_file.read_text()) if calibration_file.is_file() else None
    start = time.perf_counter()
    outputs = extract_head_outputs(cfg, root, work / HEAD_OUTPUTS_FILE, args.examples_from,
                                   ("test",) if args.outputs_only else ("eval", "test"))
    if args.outputs_only:
        print(f"head outputs: {work / HEAD_OUTPUTS_FILE} ({time.perf_counter() - start:.0f} s)")
        return 0
    outputs["num_targets"] = len(cfg.labels.label_names())
    report_trust(cfg, outputs, work, draws, trainer_calibration)
    print(f"trust figures: {time.perf_counter() - start:.0f} s (extraction + fits + bootstrap)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
