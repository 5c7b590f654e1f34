"""Training throughput of the TFX Trainer against plain ``model.fit``, in the same run.

    python benchmarks/bench_trainer.py [--train 384 --eval 96 --image-size 129 --epochs 3]

Both train the same model (``build_classifier`` + the augmentation wrapper) on the same tf.data
(``trainer_input.train_dataset``) for the same epochs and steps:

- **TFX**: a real ``tfx.components.Trainer`` (our ``run_fn``) run by LocalDagRunner after an
  ImportExampleGen of prepared TFRecords; its training-step time comes from its own
  ``history.json``, its whole time from ML Metadata (execution start to end).
- **plain**: ``model.fit`` in this process on the same tf.data, the same class weights,
  ``validation_data`` on the eval split, then ``export_model``.

Printed as ratios against plain: the training steps alone (images/s, epochs after the first of
each phase, which carries the tf.function tracing) and the whole job (Trainer component wall
time against plain build + fit + export). The weights are ImageNet at alpha 1.0 when installed,
otherwise random at alpha 0.35. 129 px (32k+1) loads the installed 224 px weights file, which
fits any size Keras has no file of its own for.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from dermflow.config import DermflowConfig, load_config
from dermflow.imaging.model_input import ImagePathSettings

TRAIN_SPLIT, EVAL_SPLIT = "train", "eval"


def benchmark_config(args, work_dir: Path) -> DermflowConfig:
    from dermflow.weights import WeightsNotFoundError, resolve_mobilenet_v2_weights

    try:
        resolve_mobilenet_v2_weights("imagenet", 1.0, args.image_size)
        model = ["model.alpha=1.0", "model.weights=imagenet"]
    except WeightsNotFoundError:
        model = ["model.alpha=0.35", "model.weights=none"]
    return load_config(overrides=[
        *model, f"model.image_size={args.image_size}", f"train.batch_size={args.batch_size}",
        f"train.head_epochs={args.epochs}", "train.fine_tune_epochs=0", "train.early_stopping_patience=100",
        f"paths.work_dir={work_dir}",
    ])


def steady_throughput(rows: list[dict]) -> float:
    """images/s over the epochs after the first of each phase (which includes tracing)."""
    steady = [row for row in rows if row["phase_epoch"] > 0] or rows
    return sum(row["train_images"] for row in steady) / sum(row["train_seconds"] for row in steady)


def run_plain(cfg: DermflowConfig, patterns: dict[str, str], out: Path) -> dict:
    import keras

    from dermflow.models import build_classifier, export_model
    from dermflow.pipelines.training import trainer_input
    from dermflow.pipelines.training.trainer_augmentation import training_model
    from dermflow.pipelines.training.trainer_callbacks import EpochHistory, SwapInAveragedWeights
    from dermflow.pipelines.training.trainer_module import phase_optimizer, set_phase_trainable, training_phases

    start = time.perf_counter()
    keras.utils.set_random_seed(cfg.train.seed)
    labels = cfg.labels.label_names()
    train = trainer_input.summarize_split([patterns[TRAIN_SPLIT]], len(labels))
    evaluation = trainer_input.summarize_split([patterns[EVAL_SPLIT]], len(labels))
    size, batch = cfg.model.image_size, cfg.train.batch_size
    built = build_classifier(cfg.model, len(labels))
    head = training_phases(cfg.train)[0]
    set_phase_trainable(built, head)
    model = training_model(built.model, cfg.train)
    steps = trainer_input.steps_per_epoch(train, batch, cfg.train)
    model.compile(
        optimizer=phase_optimizer(head, cfg.train, steps),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    rows: list[dict] = []
    callbacks = [EpochHistory(1, 0, 1, batch, rows.append)]
    if cfg.train.weight_averaging == "ema":
        callbacks.insert(0, SwapInAveragedWeights())
    model.fit(
        trainer_input.train_dataset(train, size, batch, cfg.train),
        steps_per_epoch=steps,
        epochs=cfg.train.head_epochs,
        class_weight=trainer_input.balanced_class_weights(train.class_counts),
        validation_data=trainer_input.eval_dataset(evaluation, size, batch),
        callbacks=callbacks,
        verbose=2,
    )
    export_model(built, labels, out / "plain_export", ImagePathSettings.from_config(cfg.data))
    return {"rows": rows, "wall_seconds": time.perf_counter() - start}


def run_tfx(cfg: DermflowConfig, examples_root: Path, pipeline_root: Path) -> dict:
    from tfx import v1 as tfx
    from tfx.proto import example_gen_pb2, trainer_pb2

    from dermflow.pipelines.training.trainer_module import CONFIG_KEY, HISTORY_FILE

    example_gen = tfx.components.ImportExampleGen(
        input_base=str(examples_root),
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name=TRAIN_SPLIT, pattern=f"Split-{TRAIN_SPLIT}/*"),
            example_gen_pb2.Input.Split(name=EVAL_SPLIT, pattern=f"Split-{EVAL_SPLIT}/*"),
        ]),
    )
    trainer = tfx.components.Trainer(
        run_fn="dermflow.pipelines.training.trainer_module.run_fn",
        examples=example_gen.outputs["examples"],
        train_args=trainer_pb2.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=trainer_pb2.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config={CONFIG_KEY: cfg.to_json()},
    )
    metadata_path = pipeline_root / "metadata.sqlite"
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="bench_trainer",
        pipeline_root=str(pipeline_root),
        components=[example_gen, trainer],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(str(metadata_path)),
    )
    start = time.perf_counter()
    tfx.orchestration.LocalDagRunner().run(pipeline)
    pipeline_seconds = time.perf_counter() - start
    trainer_seconds, model_run_uri = _trainer_execution(metadata_path)
    rows = json.loads((Path(model_run_uri) / HISTORY_FILE).read_text())
    return {"rows": rows, "wall_seconds": trainer_seconds, "pipeline_seconds": pipeline_seconds}


def _trainer_execution(metadata_path: Path) -> tuple[float, str]:
    """The Trainer execution's duration (ML Metadata timestamps) and its ModelRun artifact's uri."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    store = metadata_store.MetadataStore(config)
    [execution] = [e for e in store.get_executions() if "Trainer" in store.get_execution_types_by_id([e.type_id])[0].name]
    seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0
    [model_run] = store.get_artifacts_by_type("ModelRun")
    return seconds, model_run.uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=384)
    parser.add_argument("--eval", type=int, default=96)
    parser.add_argument("--image-size", type=int, default=129)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Keep the work files in this folder.")
    args = parser.parse_args(argv)

    from timing import use_test_support

    use_test_support()
    from support.synthetic_training_examples import write_synthetic_splits

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_trainer_"))
    cfg = benchmark_config(args, work / "work")
    patterns = write_synthetic_splits(
        work / "examples", {TRAIN_SPLIT: args.train, EVAL_SPLIT: args.eval}, cfg.labels.label_names(), args.image_size
    )
    print(f"model: mobilenet_v2 alpha {cfg.model.alpha} weights {cfg.model.weights}, {args.image_size} px, "
          f"batch {args.batch_size}, {args.epochs} epochs of phase 1, {args.train} train / {args.eval} eval")
    plain = run_plain(cfg, patterns, work)
    tfx_run = run_tfx(cfg, work / "examples", work / "tfx")

    plain_rate, tfx_rate = steady_throughput(plain["rows"]), steady_throughput(tfx_run["rows"])
    print(f"training steps, plain model.fit : {plain_rate:8.1f} images/s  (1.00)")
    print(f"training steps, TFX Trainer     : {tfx_rate:8.1f} images/s  ({tfx_rate / plain_rate:.2f} of plain,"
          f" overhead {100 * (plain_rate / tfx_rate - 1):+.1f}%)")
    print(f"whole job, plain build+fit+export: {plain['wall_seconds']:7.1f} s  (1.00)")
    print(f"whole job, TFX Trainer component : {tfx_run['wall_seconds']:7.1f} s  ({tfx_run['wall_seconds'] / plain['wall_seconds']:.2f}x)"
          f"; whole pipeline with ImportExampleGen {tfx_run['pipeline_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
