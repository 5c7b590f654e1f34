"""The TFX Trainer's ``run_fn``: two-phase transfer learning, then the SavedModel export.

    Trainer(module_file=None, run_fn="dermflow.pipelines.training.trainer_module.run_fn",
            custom_config={"config_json": cfg.to_json()}, examples=class_filter.outputs["examples"], ...)

Phase 1 trains the head on a frozen backbone (``train.head_epochs`` at ``train.learning_rate``);
phase 2 also trains the top ``train.fine_tune_layers`` backbone layers (``train.fine_tune_epochs``
at ``train.fine_tune_learning_rate``). A backbone without pretrained weights (``model.weights:
none``) is trained whole in both phases. Each phase stops early on the eval split's ISIC balanced
accuracy and keeps its best weights (with ``train.weight_averaging: ema``, the moving average's).
With ``train.feature_cache`` the frozen trunk's outputs are computed once per image and flip, and
``fit`` trains the classifier's top layers on them (``trainer_feature_cache``); the export is the
same full network. With ``trust.abstention: hod`` the classifier also has one abstention output per
other diagnosis beside the train split, trained with the HOD loss (``trainer_abstention``); the
exported signatures report the targets. Progress is backed up under ``paths.work_dir`` so a killed Trainer, re-executed, resumes where it
was (see ``trainer_progress``). ``<model_run_dir>/history.json``
holds one row per epoch (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
``val_balanced_accuracy``, ``phase``, ``epoch``, timings); TensorBoard logs go to ``model_run_dir``.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import keras
import tensorflow as tf

from dermflow.imaging.model_input import ImagePathSettings
from dermflow.atomic_write import write_json_atomically
from dermflow.config import DermflowConfig, TrainConfig, TrustConfig
from dermflow.models import BuiltClassifier, build_classifier, export_model, set_backbone_trainable
from dermflow.pipelines.training import trainer_input
from dermflow.pipelines.training.trainer_abstention import abstention_codes, training_loss
from dermflow.pipelines.training.trainer_calibration import fit_trust_after_training
from dermflow.pipelines.training.trainer_augmentation import training_model
from dermflow.pipelines.training.trainer_feature_cache import cached_training_inputs
from dermflow.pipelines.training.trainer_callbacks import EpochHistory, EpochScalarSummaries, EvalSetMetrics, SwapInAveragedWeights
from dermflow.pipelines.training.trainer_console import epoch_line
from dermflow.pipelines.training.trainer_drift_baseline import record_baseline_after_export
from dermflow.pipelines.training.trainer_progress import CHECKPOINTS_FOLDER, TrainingProgress, checkpoint_key
from dermflow.pipelines.training.trainer_warm_start import warm_start

log = logging.getLogger(__name__)

CONFIG_KEY = "config_json"
HISTORY_FILE = "history.json"
MONITOR = "val_balanced_accuracy"


@dataclass(frozen=True)
class Phase:
    number: int
    epochs: int
    learning_rate: float
    trainable_top_layers: int | Literal["all"] | None  # None: backbone frozen
    schedule: str = "constant"
    warmup_epochs: int = 0

    def learning_rate_at(self, steps_per_epoch: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
        """The optimizer's learning rate: a linear warmup from 0, then constant or a cosine decay to 0 over
        the phase's remaining planned steps (a schedule resumes with the optimizer's restored step count)."""
        steps = max(1, self.epochs * steps_per_epoch)
        warmup = min(self.warmup_epochs * steps_per_epoch, steps // 2)
        if self.schedule == "constant" and warmup == 0:
            return self.learning_rate
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else self.learning_rate,
            decay_steps=steps - warmup,
            alpha=1.0 if self.schedule == "constant" else 0.0,  # alpha 1: the "decay" keeps the rate
            warmup_target=self.learning_rate if warmup else None,
            warmup_steps=warmup,
        )


def training_phases(train_cfg: TrainConfig) -> list[Phase]:
    return [
        Phase(1, train_cfg.head_epochs, train_cfg.learning_rate, None),
        Phase(2, train_cfg.fine_tune_epochs, train_cfg.fine_tune_learning_rate, train_cfg.fine_tune_layers,
              train_cfg.fine_tune_schedule, train_cfg.fine_tune_warmup_epochs),
    ]


def select_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored when ``TF_CONFIG`` names a cluster, Mirrored over local GPUs, else the default."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def use_mixed_precision(setting: str) -> bool:
    """``train.mixed_precision``: ``auto`` turns it on only when a GPU is present."""
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "on"


def is_chief() -> bool:
    """The one worker that writes outputs: the chief, or worker 0 of a cluster without one."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = cluster.get("task") or {}
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0 and "chief" not in cluster.get("cluster", {})


def run_fn(fn_args) -> None:
    """Entry point of ``tfx.components.Trainer`` (generic trainer); ``fn_args`` is TFX's ``FnArgs``."""
    cfg = DermflowConfig.from_json(fn_args.custom_config[CONFIG_KEY])
    keras.utils.set_random_seed(cfg.train.seed)
    previous_policy = keras.config.dtype_policy()
    if use_mixed_precision(cfg.train.mixed_precision):
        keras.config.set_dtype_policy("mixed_float16")
    try:
        train_and_export(cfg, fn_args)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def train_and_export(cfg: DermflowConfig, fn_args) -> BuiltClassifier:
    labels = cfg.labels.label_names()
    strategy = select_strategy()
    global_batch = cfg.train.batch_size * strategy.num_replicas_in_sync
    codes = abstention_codes(cfg.trust, fn_args.train_files)
    train_split = trainer_input.summarize_split(fn_args.train_files, len(labels), codes)
    eval_split = trainer_input.summarize_split(fn_args.eval_files, len(labels))
    log.info(
        "Trainer: %d train / %d eval examples, per class %s, %d replica(s), global batch %d",
        train_split.num_examples, eval_split.num_examples, dict(zip([*labels, *codes], train_split.class_counts)),
        strategy.num_replicas_in_sync, global_batch,
    )
    _require_targets_in(cfg, labels, train_split, eval_split)
    key = checkpoint_key(list(train_split.all_files), list(eval_split.files), fn_args.custom_config[CONFIG_KEY])
    progress = TrainingProgress.open(cfg.paths.work_dir / CHECKPOINTS_FOLDER / key)
    if progress.run > 1:
        log.info("Trainer: resuming from %s (run %d, %d epochs done)", progress.root, progress.run, len(progress.history))

    size = cfg.model.image_size
    with strategy.scope():
        built = build_classifier(cfg.model, len(labels), abstention_codes=codes)
    cfg = warm_start(built, cfg, getattr(fn_args, "base_model", None))  # trainer_warm_start: its weights and schedule
    phases = [phase for phase in training_phases(cfg.train) if phase.epochs > 0]
    cached = None
    if cfg.train.feature_cache and phases:
        # Phases run in order and train ever more layers: the last one's frozen trunk is frozen in all.
        cached = cached_training_inputs(
            built, lambda: set_phase_trainable(built, phases[-1]),
            trainer_input.eval_dataset(train_split, size, global_batch, cache=False),
            trainer_input.eval_dataset(eval_split, size, global_batch, cache=False),
            global_batch, cfg.train, train_split.num_examples + eval_split.num_examples,
        )
    if cached:
        model, train_data, eval_data = cached
    else:
        train_data = trainer_input.train_dataset(train_split, size, global_batch, cfg.train)
        eval_data = trainer_input.eval_dataset(eval_split, size, global_batch, cache=cfg.train.cache)
        with strategy.scope():
            model = training_model(built.model, cfg.train)

    run_dir = Path(fn_args.model_run_dir)
    fit_kwargs = {
        "x": train_data,
        "steps_per_epoch": trainer_input.steps_per_epoch(train_split, global_batch, cfg.train),
        "class_weight": (
            trainer_input.balanced_class_weights(train_split.class_counts)
            if cfg.train.imbalance == "class_weight" else None
        ),
        "verbose": 0,  # one line per epoch comes from trainer_console.epoch_line instead
    }
    phase_epochs = {phase.number: phase.epochs for phase in training_phases(cfg.train)}

    def sink(row: dict) -> None:
        if is_chief():
            print(epoch_line(row, phase_epochs), flush=True)
        progress.record_epoch(row)
        if is_chief():
            write_history(run_dir, progress.history)

    fitting = FitContext(built, model, strategy, progress, run_dir, eval_data, global_batch, sink, cfg.train, fit_kwargs,
                         cfg.trust)
    for phase in training_phases(cfg.train):
        if phase.epochs == 0:
            continue
        if progress.is_finished(phase.number):
            progress.restore_phase(phase.number, built.model)
            log.info("Trainer: phase %d was finished by an earlier run; its weights are restored", phase.number)
            continue
        _fit_phase(phase, fitting)
        progress.finish_phase(phase.number, built.model)

    write_history(run_dir, progress.history)
    trust = fit_trust_after_training(built, cfg, list(fn_args.eval_files), global_batch)
    trust[1]["abstention"] = abstention_summary(cfg, train_split)
    _export(built, labels, fn_args.serving_model_dir, ImagePathSettings.from_config(cfg.data), trust, cfg.labels.groups)
    _record_drift_baseline(cfg, fn_args, global_batch, trust[0])
    progress.remove()
    return built


def _require_targets_in(cfg: DermflowConfig, labels: list[str], train_split, eval_split) -> None:
    """One clear error when a split holds no image of the target classes (an archive too small for the splits)."""
    for name, split in (("train", train_split), ("eval", eval_split)):
        if sum(split.class_counts[:len(labels)]) == 0:
            raise ValueError(
                f"the {name} split holds no image of the target classes {labels}: the archive is too small for "
                f"data.eval_fraction={cfg.data.eval_fraction} and data.test_fraction={cfg.data.test_fraction} (splits "
                "are whole lesions); give more images, or set data.test_fraction=0 for a quick try")


def abstention_summary(cfg: DermflowConfig, train_split: trainer_input.SplitSummary) -> dict:
    """calibration.json's "abstention": what the model was trained to abstain on, and with what."""
    codes = train_split.abstention_codes
    summary = {"method": "hod" if codes else "none", "setting": cfg.trust.abstention, "codes": list(codes),
               "train_images": dict(zip(codes, train_split.class_counts[train_split.num_targets:]))}
    if codes:
        summary["coarse_weight"] = cfg.trust.abstention_coarse_weight
    if cfg.trust.abstention_exclude:
        summary["excluded"] = list(cfg.trust.abstention_exclude)
    if cfg.trust.abstention == "hod" and not codes:
        summary["note"] = "no other diagnosis beside the train split: the targets alone"
    return summary


def set_phase_trainable(built: BuiltClassifier, phase: Phase) -> None:
    """The phase's trainable layers; a randomly initialised backbone is trained whole, in every phase.

    Freezing random features (and their BatchNorm, whose identity statistics make MobileNetV2's
    random features vanish) would leave the head nothing to learn from.
    """
    if built.weights.path is None:
        built.model.trainable = True
        for layer in built.model.layers:
            layer.trainable = True
    else:
        set_backbone_trainable(built.model, phase.trainable_top_layers)


def phase_optimizer(phase: Phase, train_cfg: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam at the phase's rate schedule, keeping a moving average of the weights when configured."""
    return keras.optimizers.Adam(
        phase.learning_rate_at(steps_per_epoch),
        use_ema=train_cfg.weight_averaging == "ema",
        ema_momentum=train_cfg.ema_momentum(steps_per_epoch),
    )


@dataclass(frozen=True)
class FitContext:
    """What every phase's ``fit`` shares."""

    built: BuiltClassifier
    model: keras.Model  # what fit() trains: built.model inside the augmentation, or its top on cached features
    strategy: tf.distribute.Strategy
    progress: TrainingProgress
    run_dir: Path
    eval_data: tf.data.Dataset
    global_batch: int
    sink: Callable[[dict], None]  # one history row per epoch
    train_cfg: TrainConfig
    fit_kwargs: dict  # x, steps_per_epoch, class_weight, verbose
    trust_cfg: TrustConfig  # the abstention loss's settings


def _fit_phase(phase: Phase, fitting: FitContext) -> None:
    built, model, train_cfg, fit_kwargs = fitting.built, fitting.model, fitting.train_cfg, fitting.fit_kwargs
    progress, strategy = fitting.progress, fitting.strategy
    set_phase_trainable(built, phase)
    averaging = train_cfg.weight_averaging == "ema"
    with strategy.scope():
        model.compile(
            optimizer=phase_optimizer(phase, train_cfg, fit_kwargs["steps_per_epoch"]),
            loss=training_loss(built.num_classes, built.num_outputs, fitting.trust_cfg),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    first_epoch = progress.epochs_before(phase.number)
    callbacks = [SwapInAveragedWeights()] if averaging else []  # first: the epoch's end sees the averaged weights
    callbacks += [
        EvalSetMetrics(fitting.eval_data, built.num_classes),  # the others read its val_* logs
        EpochHistory(phase.number, first_epoch, progress.run, fitting.global_batch, fitting.sink),
        keras.callbacks.EarlyStopping(
            monitor=MONITOR, mode="max", patience=train_cfg.early_stopping_patience, restore_best_weights=True
        ),
        EpochScalarSummaries(str(fitting.run_dir)),
        keras.callbacks.BackupAndRestore(str(progress.backup_dir(phase.number)), double_checkpoint=True),
    ]
    log.info("Trainer: phase %d, %d epoch(s) at learning rate %g (%s)", phase.number, phase.epochs, phase.learning_rate,
             phase.schedule)
    model.fit(initial_epoch=first_epoch, epochs=first_epoch + phase.epochs, callbacks=callbacks, **fit_kwargs)


def write_history(run_dir: Path, history: list[dict]) -> None:
    write_json_atomically(run_dir / HISTORY_FILE, history, indent=1)


def _record_drift_baseline(cfg: DermflowConfig, fn_args, batch_size: int, trust) -> None:
    """The chief records the exported model's drift baseline beside it (``trainer_drift_baseline``)."""
    if is_chief():
        record_baseline_after_export(fn_args.serving_model_dir, list(fn_args.eval_files), batch_size, trust, cfg.trust.seed)


def _export(built: BuiltClassifier, labels: list[str], serving_model_dir: str, image_path: ImagePathSettings,
            trust: tuple = (None, None), label_groups: dict | None = None) -> None:
    """``trust``: (TrustParameters or None, calibration figures), from ``trainer_calibration``."""
    parameters, calibration = trust
    if is_chief():
        export_model(built, labels, serving_model_dir, image_path, trust=parameters, calibration=calibration,
                     label_groups=label_groups)
        return
    # Saving is collective under MultiWorkerMirroredStrategy: the other workers save to a scratch dir.
    with tempfile.TemporaryDirectory() as scratch:
        export_model(built, labels, scratch, image_path, trust=parameters, calibration=calibration, label_groups=label_groups)
