"""The ``dermflow`` command line. ``dermflow --help`` lists everything.

    dermflow train --data-root ARCHIVE --registry var/registry --work-dir var/work

Heavy libraries (TensorFlow, TFX, Beam) are imported inside the subcommands, after the checks of
``dermflow.preflight_checks``, so ``--help``, argument errors and wrong paths answer at once.
What those checks find is a mistake (exit 2); what goes wrong once the job has started
(``_job_phase``) is a failure of the job (exit 1), whatever the exception.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dermflow.runtime_environment import apply_runtime_environment

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_NOT_BLESSED = 0, 1, 2, 3
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  done
  {EXIT_JOB_FAILED}  the job failed once it had started (one line on stderr; -v for the traceback and full logs)
  {EXIT_USAGE}  usage or config mistake, found before the job starts: a wrong flag, path, config key or
     value, missing weights, a missing model or one exported without the image-path record
  {EXIT_NOT_BLESSED}  train --require-push: the model was trained but not blessed, so not pushed

KERAS_HOME and AIRFLOW_HOME: a value in the environment wins; else a repository checkout uses its
var/keras and var/airflow (where `make install` puts the weights); else Keras's and Airflow's defaults."""

SCORE_PROGRESS = """progress: while the Beam job runs, a line every score.progress_seconds (when the count has
changed) with files done/given, files/s and an ETA; the workers write their counts under
OUTPUT/_staging/RUN_ID/progress/, the command sums them."""

# What the checks before a job raise, by the module that defines them (imported only if loaded).
# Raised before the job starts they are the user's mistake (exit 2); inside it, failures (exit 1).
USER_MISTAKES: tuple[tuple[str, str], ...] = (
    ("dermflow.config", "ConfigError"),
    ("dermflow.preflight_checks", "UsageError"),
    ("dermflow.weights.backbone_weights", "WeightsNotFoundError"),
    ("dermflow.registry.model_registry", "RegistryError"),
    ("dermflow.review.review_errors", "ReviewStoreError"),
    ("dermflow.secret_source", "MissingPasswordError"),
)


class JobFailed(Exception):
    """Raised from (``__cause__``) whatever ended a job once it had started: exit 1, never 2."""


@contextmanager
def _job_phase() -> Iterator[None]:
    """Where a command's up-front checks end and its job begins."""
    try:
        yield
    except Exception as exc:
        raise JobFailed() from exc


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML config file (see configs/).")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="Override any config key, e.g. --set train.head_epochs=2 (repeatable).",
    )


def _config(args: argparse.Namespace, flag_overrides: dict[str, object]):
    """The config from --config, --set and the command's flags; a flag and a --set on one key must agree."""
    from dermflow.config import ConfigError, load_config, parse_override

    overrides = list(args.overrides)
    set_values = {".".join(path): value for path, value in map(parse_override, overrides)}
    for key, value in flag_overrides.items():
        if value is None:
            continue
        if key in set_values and parse_override(f"{key}={value}")[1] != set_values[key]:
            raise ConfigError(f"the flag for {key} says {value} but --set {key}={set_values[key]}: give one of them")
        overrides.append(f"{key}={value}")
    return load_config(args.config, overrides)


def _say(message: str) -> None:
    print(message, flush=True)


def _cmd_synth(args: argparse.Namespace) -> int:
    from dermflow.preflight_checks import UsageError, check_writable
    from dermflow.synthetic.archive_writer import TrapSet, check_archive_request, write_archive

    try:
        check_archive_request(args.out, n=args.n, seed=args.seed, image_size=args.image_size, unique=args.unique)
        trap = TrapSet(kind=args.trap, share=args.trap_share, lookalike=args.trap_lookalike) if args.trap else None
        if trap is not None and args.unique is not None:
            raise ValueError("--trap paints images one by one: leave out --unique")
    except (ValueError, FileExistsError) as exc:
        raise UsageError(str(exc)) from None
    check_writable(args.out, "--out")
    _say(f"synth: writing {args.n} images ({'full-size' if args.full_size else f'{args.image_size} px'}) to {args.out}")
    with _job_phase():
        summary = write_archive(args.out, n=args.n, seed=args.seed, image_size=args.image_size, progress=True,
                                full_size=args.full_size, unique=args.unique, trap=trap)
    _say(f"synth: done: {summary}")
    return EXIT_OK


def _cmd_weights_install(args: argparse.Namespace) -> int:
    from dermflow.preflight_checks import UsageError, check_writable
    from dermflow.weights import install_imagenet_weights
    from dermflow.weights.keras_weights_cache import keras_models_dir

    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise UsageError(f"--checkpoint {args.checkpoint} is not a file")
    check_writable(keras_models_dir(args.keras_home), "Keras models folder")
    _say(f"weights: installing into {keras_models_dir(args.keras_home)}")
    with _job_phase():
        for path in install_imagenet_weights(
            alpha=args.alpha, rows=args.rows, source=args.source, checkpoint=args.checkpoint, keras_home=args.keras_home
        ):
            _say(f"weights: {path}")
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from dermflow.preflight_checks import check_training_inputs, weights_location

    cfg = _config(args, {
        "data.data_root": args.data_root, "paths.registry": args.registry, "paths.work_dir": args.work_dir,
        "model.image_size": args.image_size, "train.head_epochs": args.head_epochs,
        "train.fine_tune_epochs": args.fine_tune_epochs, "eval.min_balanced_accuracy": args.min_balanced_accuracy,
    })
    check_training_inputs(cfg)
    from dermflow.console_progress import quiet_console, tfx_component_lines

    with _job_phase(), quiet_console(Path(cfg.paths.work_dir) / "logs", "train", verbose=args.verbose), \
            tfx_component_lines("train"):
        _say(f"train: data {cfg.data.data_root}; {cfg.model.backbone} at {cfg.model.image_size} px, "
             f"{cfg.train.head_epochs} head + {cfg.train.fine_tune_epochs} fine-tuning epochs")
        _say(f"train: weights {cfg.model.weights}, looked for in {weights_location(cfg.model)}")
        from dermflow.pipelines.training.training_pipeline import run_training
        from dermflow.pipelines.training.training_run_summary import format_result

        result = run_training(cfg)
    _say(format_result(result))
    return EXIT_OK if result.get("pushed") or not args.require_push else EXIT_NOT_BLESSED


def _cmd_score(args: argparse.Namespace) -> int:
    from dermflow.preflight_checks import UsageError, check_scoring_inputs

    cfg = _config(args, {})
    if not args.input and not args.files_from:
        raise UsageError("give --input or --files-from")
    registered = check_scoring_inputs(cfg, args.input or [], args.model, args.output)
    files = None
    if args.files_from:
        from dermflow.orchestration.scoring_shards import read_manifest

        try:
            files = read_manifest(args.files_from)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"--files-from {args.files_from} is no shard manifest: {one_line(exc)}") from None
    from dermflow.console_progress import quiet_console

    with _job_phase(), quiet_console(Path(cfg.paths.work_dir) / "logs", "score", verbose=args.verbose):
        from dermflow.clinical.dicomweb_source import redact

        inputs = ' '.join(redact(spec) for spec in args.input) if args.input else str(args.files_from)
        _say(f"score: model {registered.name}/{registered.version}; inputs {inputs}")
        from dermflow.pipelines.scoring_pipeline import run_scoring, scoring_summary_text

        summary = run_scoring(
            cfg, inputs=args.input or [], model=args.model, output=args.output, run_id=args.run_id,
            beam_args=args.beam_args, files=files, shard=args.shard, say=_say,
        )
    _say(json.dumps(summary, indent=2, sort_keys=True) if args.json else scoring_summary_text(summary))
    return EXIT_OK


def _cmd_drift(args: argparse.Namespace) -> int:
    from dermflow.preflight_checks import check_drift_inputs

    cfg = _config(args, {})
    registered = check_drift_inputs(cfg, args.model, args.output, args.run_id)
    from dermflow.console_progress import quiet_console

    with _job_phase(), quiet_console(Path(cfg.paths.work_dir) / "logs", "drift", verbose=args.verbose):
        from dermflow.pipelines.scoring.run_monitoring import drift_lines, recheck_run

        summary = recheck_run(cfg, str(args.output), args.run_id, registered)
    lines = [f"drift: run {args.run_id} with {registered.name}/{registered.version}", *drift_lines(summary["drift"]),
             f"  summary     : {summary['summary_json']}"]
    _say(json.dumps(summary, indent=2, sort_keys=True) if args.json else "\n".join(lines))
    return EXIT_OK


def _cmd_cluster(args: argparse.Namespace) -> int:
    from dermflow.cluster.cluster_cli import run

    return run(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from dermflow.registry import resolve_model

    resolve_model(args.model)  # a wrong path answers before TensorFlow loads
    with _job_phase():
        from dermflow.evaluation.model_report import write_run_report

        _say(f"report: {write_run_report(args.model, args.out)}")
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    from dermflow.serving.serve_cli import flag_overrides, run

    return run(args, _config(args, flag_overrides(args)))


def _cmd_users(args: argparse.Namespace) -> int:
    from dermflow.review.review_cli import run_users

    return run_users(args, _config(args, {}))


def _cmd_verdicts(args: argparse.Namespace) -> int:
    from dermflow.review.review_cli import run_verdicts

    return run_verdicts(args, _config(args, {}))


def _cmd_demo(args: argparse.Namespace) -> int:
    from dermflow.demo import DemoError, format_summary, run_demo

    try:
        with _job_phase():
            result = run_demo(**({"var": args.var} if args.var else {}), n=args.n, image_size=args.image_size)
    except JobFailed as failed:
        if not isinstance(failed.__cause__, DemoError):
            raise
        print(f"dermflow demo: {failed.__cause__}", file=sys.stderr)
        return EXIT_JOB_FAILED
    _say(format_summary(result))
    return EXIT_OK


def _add_synth(sub) -> None:
    from dermflow.config import ARTEFACT_KIND_NAMES

    p = sub.add_parser("synth", help="Write a synthetic archive in the ISIC 2019 layout.")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=300, help="Number of images.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=128, help="Side of the square images.")
    p.add_argument("--full-size", action="store_true",
                   help="Sizes of the real archive (600x450, 1024x1024, 1024x768, some 2048x1536) instead of --image-size.")
    p.add_argument("--unique", type=int, metavar="K",
                   help="Render only the first K images; the others are hard links of them under new ids (said in the summary).")
    p.add_argument("--trap", choices=ARTEFACT_KIND_NAMES, metavar="ARTEFACT",
                   help="A trap set: this artefact (ruler, ink, dark_corners, gel_bubbles, hair, patch) on most train-split "
                        "melanomas and most test-split others, as the default split settings assign them (docs/trust.md).")
    p.add_argument("--trap-share", type=float, default=0.9, metavar="P", help="Share of those images that get it (0.9).")
    p.add_argument("--trap-lookalike", type=float, default=0.0, metavar="P",
                   help="Share of the train melanomas drawn with a nevus's look, so that only the artefact tells them apart (0).")
    p.set_defaults(func=_cmd_synth)


def _add_weights(sub) -> None:
    p = sub.add_parser("weights", help="Pretrained ImageNet weights for MobileNetV2.")
    wsub = p.add_subparsers(dest="weights_command", required=True)
    w = wsub.add_parser("install", help="Put ImageNet MobileNetV2 weights where Keras looks for them.")
    w.add_argument("--alpha", type=float, default=1.0)
    w.add_argument("--rows", type=int, action="append", help="Input sizes to install for (repeatable).")
    w.add_argument("--source", choices=["auto", "keras", "torchvision"], default="auto")
    w.add_argument("--checkpoint", type=Path, help="A local torchvision mobilenet_v2-b0353104.pth.")
    w.add_argument("--keras-home", type=Path, help="Default: $KERAS_HOME, else the checkout's var/keras, else ~/.keras.")
    w.set_defaults(func=_cmd_weights_install)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="Run the TFX training pipeline (LocalDagRunner).", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config_args(p)
    p.add_argument("--data-root", type=Path, help="ISIC-layout archive (data.data_root).")
    p.add_argument("--registry", type=Path, help="Where blessed models are pushed (paths.registry).")
    p.add_argument("--work-dir", type=Path, help="TFX pipeline root, ML Metadata and logs (paths.work_dir).")
    p.add_argument("--image-size", type=int, help="Square input side in pixels (model.image_size).")
    p.add_argument("--head-epochs", type=int, help="Phase 1, backbone frozen (train.head_epochs).")
    p.add_argument("--fine-tune-epochs", type=int, help="Phase 2, backbone trained too (train.fine_tune_epochs).")
    p.add_argument("--min-balanced-accuracy", type=float, help="Blessing floor (eval.min_balanced_accuracy).")
    p.add_argument("--require-push", action="store_true", help="Exit 3 when the model is not blessed.")
    p.set_defaults(func=_cmd_train)


def _add_score(sub) -> None:
    p = sub.add_parser("score", help="Batch-score image folders with Beam; write Parquet.",
                       epilog=f"{SCORE_PROGRESS}\n\n{EXIT_CODES}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config_args(p)
    p.add_argument("--input", action="append", help="Folder (recursive) or glob; repeatable.")
    p.add_argument("--files-from", type=Path, metavar="MANIFEST",
                   help="Score exactly the files of this shard manifest (JSON) instead of listing --input.")
    p.add_argument("--shard", default="", help="Shard label (shard-K-of-N) of a run scored by several tasks.")
    p.add_argument("--model", required=True, help="REGISTRY[/NAME[/VERSION]]")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--run-id", help="Default: a timestamp.")
    p.add_argument("--json", action="store_true", help="Print the run's summary as JSON (also in OUTPUT/runs/RUN_ID.json).")
    p.add_argument("beam_args", nargs=argparse.REMAINDER, help="After --: Beam pipeline options.")
    p.set_defaults(func=_cmd_score)


def _add_drift(sub) -> None:
    p = sub.add_parser("drift", help="Check a published scoring run for drift against its model's baseline (again).",
                       description="Checks every shard of a scoring run once against the model's drift baseline and "
                       "records it in OUTPUT/monitoring/ and OUTPUT/runs/RUN_ID.json (docs/scoring.md, Monitoring). "
                       "dermflow score does this itself; the scoring DAG runs it after reconcile.",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config_args(p)
    p.add_argument("--output", type=Path, required=True, help="The scoring output folder.")
    p.add_argument("--run-id", required=True, help="The run to check.")
    p.add_argument("--model", required=True, help="REGISTRY[/NAME[/VERSION]]: the version that scored the run.")
    p.add_argument("--json", action="store_true", help="Print the run's summary as JSON.")
    p.set_defaults(func=_cmd_drift)


def _add_cluster(sub) -> None:
    p = sub.add_parser("cluster", help="Local cluster: Postgres, Redis, Airflow on Celery (docs/deployment.md).")
    from dermflow.cluster.cluster_cli import add_arguments as _cluster_arguments

    _cluster_arguments(p)
    p.set_defaults(func=_cmd_cluster)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="Write the HTML report of a pushed model version.")
    p.add_argument("--model", required=True, help="REGISTRY[/NAME[/VERSION]]")
    p.add_argument("--out", type=Path, help="Default: next to the model.")
    p.set_defaults(func=_cmd_report)


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="Web page and JSON API: one image now, and a scoring run's results (docs/serving.md).")
    _add_config_args(p)
    from dermflow.serving.serve_cli import add_arguments as _serve_arguments

    _serve_arguments(p)
    p.set_defaults(func=_cmd_serve)


def _add_users(sub) -> None:
    p = sub.add_parser("users", help="Accounts of the web page and JSON API: add, passwd, role, disable, list, token "
                                     "(docs/review.md).")
    from dermflow.review.review_cli import add_users_arguments

    add_users_arguments(p, _add_config_args)
    p.set_defaults(func=_cmd_users)


def _add_verdicts(sub) -> None:
    p = sub.add_parser("verdicts", help="Clinicians' verdicts: export as Parquet, list, reviewed performance (docs/review.md).")
    from dermflow.review.review_cli import add_verdicts_arguments

    add_verdicts_arguments(p, _add_config_args)
    p.set_defaults(func=_cmd_verdicts)


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="Run the whole job through Airflow (dags test) on a synthetic archive.")
    p.add_argument("--var", type=Path, help="Where the demo writes (default: the repository's var/).")
    p.add_argument("--n", type=int, default=300, help="Images in the synthetic archive.")
    p.add_argument("--image-size", type=int, default=128, help="Side of the synthetic images.")
    p.set_defaults(func=_cmd_demo)


SUBCOMMANDS = (_add_synth, _add_weights, _add_train, _add_score, _add_drift, _add_serve, _add_users, _add_verdicts,
               _add_cluster, _add_report, _add_demo)


VERBOSE_HELP = "Log at INFO level; third-party logs on the console; tracebacks on errors."


def _add_verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """``-v`` after any subcommand too; SUPPRESS keeps a subcommand from resetting a ``-v`` given before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                if not any("-v" in a.option_strings for a in subparser._actions):
                    subparser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                           help=VERBOSE_HELP)
                _add_verbose_everywhere(subparser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dermflow", description=__doc__.splitlines()[0], epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    _add_verbose_everywhere(parser)
    return parser


@contextmanager
def _program_name_only_in_argv() -> Iterator[None]:
    """While a command runs, ``sys.argv`` holds the program name alone: TFX's Beam executors hand
    ``sys.argv`` to absl (``FLAGS(sys.argv + beam_args)``), which would read ``-v train`` as its
    own ``--verbosity``. dermflow's arguments are parsed by then; nothing else should read them."""
    saved = sys.argv
    sys.argv = saved[:1] or ["dermflow"]
    try:
        yield
    finally:
        sys.argv = saved


def is_user_mistake(exc: BaseException) -> bool:
    for module, name in USER_MISTAKES:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return True
    return False


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 1000 else text[:997] + "..."


def main(argv: list[str] | None = None) -> int:
    apply_runtime_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with _program_name_only_in_argv():
            return args.func(args)
    except KeyboardInterrupt:
        print(f"dermflow {args.command}: interrupted", file=sys.stderr)
        return 130
    except JobFailed as failed:
        return _job_failed(args, failed.__cause__)
    except Exception as exc:
        if not is_user_mistake(exc):
            return _job_failed(args, exc)
        if args.verbose:
            traceback.print_exception(exc)
        print(f"dermflow {args.command}: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _job_failed(args: argparse.Namespace, exc: BaseException) -> int:
    if args.verbose:
        traceback.print_exception(exc)
    hint = "" if args.verbose else " (run with -v for the traceback)"
    print(f"dermflow {args.command}: failed: {type(exc).__name__}: {one_line(exc)}{hint}", file=sys.stderr)
    return EXIT_JOB_FAILED


if __name__ == "__main__":
    sys.exit(main())
