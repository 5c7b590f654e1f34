"""The ``dermflow`` command line. ``dermflow --help`` lists everything.

Heavy libraries (TensorFlow, TFX, Beam) are imported inside the subcommands, so
``--help`` and argument errors answer at once.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dermflow.config import ConfigError, DermflowConfig, load_config


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML config file (see configs/).")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="Override any config key, e.g. --set train.head_epochs=2 (repeatable).",
    )


def _config(args: argparse.Namespace, flag_overrides: dict[str, object]) -> DermflowConfig:
    overrides = list(args.overrides)
    for key, value in flag_overrides.items():
        if value is not None:
            overrides.append(f"{key}={value}")
    return load_config(args.config, overrides)


def _cmd_synth(args: argparse.Namespace) -> int:
    from dermflow.synthetic.archive_writer import write_archive

    summary = write_archive(args.out, n=args.n, seed=args.seed, image_size=args.image_size, progress=True)
    print(summary)
    return 0


def _cmd_weights_install(args: argparse.Namespace) -> int:
    from dermflow.weights import install_imagenet_weights

    for path in install_imagenet_weights(
        alpha=args.alpha, rows=args.rows, source=args.source, checkpoint=args.checkpoint, keras_home=args.keras_home
    ):
        print(path)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from dermflow.pipelines.training_pipeline import run_training
    from dermflow.pipelines.training_run_summary import format_result

    cfg = _config(args, {
        "data.data_root": args.data_root, "paths.registry": args.registry, "paths.work_dir": args.work_dir,
        "model.image_size": args.image_size, "train.head_epochs": args.epochs,
        "train.fine_tune_epochs": args.fine_tune_epochs, "eval.min_balanced_accuracy": args.min_balanced_accuracy,
    })
    result = run_training(cfg)
    print(format_result(result))
    return 0 if result.get("pushed") or not args.require_push else 3


def _cmd_score(args: argparse.Namespace) -> int:
    from dermflow.pipelines.scoring_pipeline import run_scoring

    cfg = _config(args, {})
    if not args.input and not args.files_from:
        raise SystemExit("dermflow score: give --input or --files-from")
    files = None
    if args.files_from:
        from dermflow.orchestration.scoring_shards import read_manifest

        files = read_manifest(args.files_from)
    summary = run_scoring(
        cfg, inputs=args.input or [], model=args.model, output=args.output, run_id=args.run_id,
        beam_args=args.beam_args, files=files, shard=args.shard,
    )
    print(summary)
    return 0


def _cmd_cluster(args: argparse.Namespace) -> int:
    from dermflow.cluster.cluster_cli import run

    return run(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from dermflow.evaluation.model_report import write_run_report

    print(write_run_report(args.model, args.out))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from dermflow.serving.serve_cli import flag_overrides, run

    return run(args, _config(args, flag_overrides(args)))


def _cmd_demo(args: argparse.Namespace) -> int:
    from dermflow.demo import DemoError, format_summary, run_demo

    try:
        result = run_demo(**({"var": args.var} if args.var else {}), n=args.n, image_size=args.image_size)
    except DemoError as exc:
        print(f"dermflow demo: {exc}", file=sys.stderr)
        return 1
    print(format_summary(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dermflow", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="Log at INFO level.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="Write a synthetic archive in the ISIC 2019 layout.")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=300, help="Number of images.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=128, help="Side of the square images.")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("weights", help="Pretrained ImageNet weights for MobileNetV2.")
    wsub = p.add_subparsers(dest="weights_command", required=True)
    w = wsub.add_parser("install", help="Put ImageNet MobileNetV2 weights where Keras looks for them.")
    w.add_argument("--alpha", type=float, default=1.0)
    w.add_argument("--rows", type=int, action="append", help="Input sizes to install for (repeatable).")
    w.add_argument("--source", choices=["auto", "keras", "torchvision"], default="auto")
    w.add_argument("--checkpoint", type=Path, help="A local torchvision mobilenet_v2-b0353104.pth.")
    w.add_argument("--keras-home", type=Path, help="Default: $KERAS_HOME or ~/.keras.")
    w.set_defaults(func=_cmd_weights_install)

    p = sub.add_parser("train", help="Run the TFX training pipeline (LocalDagRunner).")
    _add_config_args(p)
    p.add_argument("--data-root", type=Path)
    p.add_argument("--registry", type=Path)
    p.add_argument("--work-dir", type=Path)
    p.add_argument("--image-size", type=int)
    p.add_argument("--epochs", type=int, help="Head-training epochs (train.head_epochs).")
    p.add_argument("--fine-tune-epochs", type=int, help="Fine-tuning epochs (train.fine_tune_epochs).")
    p.add_argument("--min-balanced-accuracy", type=float, help="Blessing floor (eval.min_balanced_accuracy).")
    p.add_argument("--require-push", action="store_true", help="Exit 3 when the model is not blessed.")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("score", help="Batch-score image folders with Beam; write Parquet.")
    _add_config_args(p)
    p.add_argument("--input", action="append", help="Folder (recursive) or glob; repeatable.")
    p.add_argument("--files-from", type=Path, metavar="MANIFEST",
                   help="Score exactly the files of this shard manifest (JSON) instead of listing --input.")
    p.add_argument("--shard", default="", help="Shard label (shard-K-of-N) of a run scored by several tasks.")
    p.add_argument("--model", required=True, help="REGISTRY[/NAME[/VERSION]]")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--run-id", help="Default: a timestamp.")
    p.add_argument("beam_args", nargs=argparse.REMAINDER, help="After --: Beam pipeline options.")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("cluster", help="Local cluster: Postgres, Redis, Airflow on Celery (docs/deployment.md).")
    from dermflow.cluster.cluster_cli import add_arguments as _cluster_arguments

    _cluster_arguments(p)
    p.set_defaults(func=_cmd_cluster)

    p = sub.add_parser("report", help="Write the HTML report of a pushed model version.")
    p.add_argument("--model", required=True, help="REGISTRY[/NAME[/VERSION]]")
    p.add_argument("--out", type=Path, help="Default: next to the model.")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("serve", help="Web page and JSON API: one image now, and a scoring run's results (docs/serving.md).")
    _add_config_args(p)
    from dermflow.serving.serve_cli import add_arguments as _serve_arguments

    _serve_arguments(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("demo", help="Run the whole job through Airflow (dags test) on a synthetic archive.")
    p.add_argument("--var", type=Path, help="Where the demo writes (default: the repository's var/).")
    p.add_argument("--n", type=int, default=300, help="Images in the synthetic archive.")
    p.add_argument("--image-size", type=int, default=128, help="Side of the synthetic images.")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ConfigError, FileExistsError, FileNotFoundError) as exc:
        if args.verbose:
            raise
        print(f"dermflow {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
