"""Every user mistake: a documented exit code, exactly one line on stderr naming it, no traceback, fast.

A failure once the job has started is exit 1, in one line too, whatever the exception's type.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import get_args

import pytest

from dermflow.cli import EXIT_JOB_FAILED, EXIT_USAGE, build_parser
from dermflow.config import DataConfig, ModelConfig
from dermflow.imaging.model_input import ImagePathSettings
from dermflow.models.export_layout import EXTRAS_DIR, PROVENANCE_FILE

FAST_S = 15.0  # about a second alone; generous for a shared 2-core CI machine


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    from dermflow.synthetic.archive_writer import write_archive

    root = tmp_path_factory.mktemp("archive")
    write_archive(root, n=8, seed=0, image_size=32)
    return root


def _registry(root: Path, image_path_record: dict | None) -> Path:
    """Just enough of a registry for the model to resolve and its image path to be read (nothing loads it)."""
    extras = root / "dermflow_mobilenet_v2" / "20260101T000000Z" / "saved_model" / EXTRAS_DIR
    extras.mkdir(parents=True)
    provenance = {"backbone": "mobilenet_v2"} if image_path_record is None else {"image_path": image_path_record}
    (extras / PROVENANCE_FILE).write_text(json.dumps(provenance))
    (root / "dermflow_mobilenet_v2" / "LATEST").write_text("20260101T000000Z\n")
    return root


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    """A model the up-front checks accept; its version has no labels.txt, which the job reads first."""
    return _registry(tmp_path_factory.mktemp("registry"), ImagePathSettings.from_config(DataConfig()).provenance())


@pytest.fixture(scope="module")
def legacy_registry(tmp_path_factory) -> Path:
    """A model exported before the image path was recorded in it."""
    return _registry(tmp_path_factory.mktemp("legacy_registry"), None)


def _dermflow(*args: str, env: dict | None = None, cwd: Path | None = None) -> tuple[int, list[str], float]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "dermflow.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=120)
    return done.returncode, done.stderr.splitlines(), time.monotonic() - start


def _bad_csv_archive(archive: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "bad_csv"
    bad.mkdir()
    (bad / "ISIC_2019_Training_Input").symlink_to(archive / "ISIC_2019_Training_Input")
    (bad / "ISIC_2019_Training_GroundTruth.csv").write_text("image,melanoma\nISIC_0000000,1\n")
    (bad / "ISIC_2019_Training_Metadata.csv").write_text((archive / "ISIC_2019_Training_Metadata.csv").read_text())
    return bad


def _scored_output(tmp_path: Path) -> Path:
    """A scoring output holding one prediction file of run r1, by another model version."""
    partition = tmp_path / "scored" / "predictions" / "model_version=20250101T000000Z" / "scored_date=2025-01-01"
    partition.mkdir(parents=True)
    (partition / "part-r1-00000-of-00001.parquet").write_bytes(b"")
    return tmp_path / "scored"


def _scoring_output(tmp_path: Path) -> Path:
    (tmp_path / "scores" / "predictions").mkdir(parents=True)
    return tmp_path / "scores"


MISTAKES = {
    # name: (args, what the line must name); {archive}, {registry}, {tmp} are filled in
    "missing data root": (["train", "--data-root", "/nonexistent"], "data root /nonexistent does not exist"),
    "data root is a file": (["train", "--data-root", "{archive}/ISIC_2019_Training_GroundTruth.csv"], "is not a folder"),
    "csv with wrong columns": (["train", "--data-root", "{bad_csv}"], "missing column(s)"),
    "unknown config key": (["train", "--data-root", "{archive}", "--set", "train.epochs=3"], "train.epochs: unknown key"),
    "wrong type": (["train", "--data-root", "{archive}", "--set", "train.head_epochs=many"], "train.head_epochs"),
    "image size below the backbone's minimum": (
        ["train", "--data-root", "{archive}", "--image-size", "64", "--set", "model.backbone=inception_v3"],
        "below 75, the smallest input inception_v3 accepts",
    ),
    "flag conflicts with --set": (
        ["train", "--data-root", "{archive}", "--image-size", "64", "--set", "model.image_size=75"], "give one of them"
    ),
    "missing weights": (["train", "--data-root", "{archive}"], "are not installed"),
    "unwritable work dir": (["train", "--data-root", "{archive}", "--work-dir", "{archive}/ISIC_2019_Training_GroundTruth.csv/work"],
                            "work dir"),
    "missing model": (["score", "--input", "{archive}", "--model", "/nonexistent", "--output", "{tmp}/out"], "model not found"),
    "model without the image-path record": (
        ["score", "--input", "{archive}", "--model", "{legacy_registry}", "--output", "{tmp}/out"],
        "was exported with another image path (no record",
    ),
    "missing shard manifest": (
        ["score", "--files-from", "{tmp}/manifest.json", "--model", "{registry}", "--output", "{tmp}/out"],
        "--files-from {tmp}/manifest.json is no shard manifest",
    ),
    "synth into a folder that is not empty": (["synth", "--out", "{archive}", "--n", "8"], "is not an empty folder"),
    "synth with no image": (["synth", "--out", "{tmp}/new", "--n", "0"], "n must be at least 1"),
    "synth trap with linked images": (["synth", "--out", "{tmp}/new", "--n", "80", "--unique", "40", "--trap", "ruler"],
                                      "--trap paints images one by one: leave out --unique"),
    "synth trap share above one": (["synth", "--out", "{tmp}/new", "--trap", "ink", "--trap-share", "1.5"],
                                   "trap share must be within [0, 1], got 1.5"),
    "missing checkpoint": (["weights", "install", "--checkpoint", "/nonexistent.pth"], "--checkpoint /nonexistent.pth is not a file"),
    "empty registry": (["score", "--input", "{archive}", "--model", "{tmp}", "--output", "{tmp}/out"], "no pushed model"),
    "input matching nothing": (["score", "--input", "/nonexistent", "--model", "{registry}", "--output", "{tmp}/out"],
                               "--input '/nonexistent' matches no file"),
    "glob matching nothing": (["score", "--input", "{archive}/*.tiff", "--model", "{registry}", "--output", "{tmp}/out"],
                              "matches no file"),
    "unwritable output": (["score", "--input", "{archive}", "--model", "{registry}", "--output", "/proc/version/out"],
                          "output folder /proc/version/out cannot be made"),
    "no input at all": (["score", "--model", "{registry}", "--output", "{tmp}/out"], "give --input or --files-from"),
    "clinical results inside the output": (
        ["score", "--input", "{archive}", "--model", "{registry}", "--output", "{tmp}/out", "--set", "score.fhir_results=true",
         "--set", "score.clinical_results_dir={tmp}/out/clinical"],
        "lies inside --output {tmp}/out",
    ),
    "clinical results without a folder": (
        ["score", "--input", "{archive}", "--model", "{registry}", "--output", "{tmp}/out", "--set", "score.dicom_results=sr"],
        "score.clinical_results_dir is required",
    ),
    "dicom results off": (["score", "--input", "{archive}", "--model", "{registry}", "--output", "{tmp}/out",
                           "--set", "score.dicom_results=off"], "score.dicom_results: Input should be 'none' or 'sr'"),
    "PACS not answering": (
        ["score", "--input", "{archive}", "--model", "{registry}", "--output", "{tmp}/out", "--set", "score.dicom_results=sr",
         "--set", "score.clinical_results_dir={tmp}/clinical", "--set", "score.dicomweb_url=http://127.0.0.1:9/dicom-web"],
        "score.dicomweb_url http://127.0.0.1:9/dicom-web cannot be reached",
    ),
    "password in the PACS url": (
        ["score", "--input", "{archive}", "--model", "{registry}", "--output", "{tmp}/out", "--set", "score.dicom_results=sr",
         "--set", "score.clinical_results_dir={tmp}/clinical", "--set", "score.dicomweb_url=http://u:pw@127.0.0.1:9/dw"],
        "score.dicomweb_url must not hold credentials",
    ),
    "malformed dicomweb input": (["score", "--input", "dicomweb://127.0.0.1:9/dicom-web/patients/1", "--model", "{registry}",
                                  "--output", "{tmp}/out"], "a DICOMweb input must name .../studies/STUDY_UID"),
    "dicomweb input whose PACS does not answer": (
        ["score", "--input", "dicomweb://127.0.0.1:9/dicom-web/studies/1.2.3.4", "--model", "{registry}", "--output", "{tmp}/out"],
        "the PACS at http://127.0.0.1:9/dicom-web cannot be reached",
    ),
    "missing report model": (["report", "--model", "/nonexistent"], "model not found"),
    "drift of a run that is not there": (["drift", "--output", "{tmp}", "--run-id", "nope", "--model", "{registry}"],
                                         "no scoring run 'nope' under {tmp}"),
    "drift of a missing output": (["drift", "--output", "/nonexistent", "--run-id", "r", "--model", "{registry}"],
                                  "--output /nonexistent is not a folder"),
    "drift of a run another version scored": (
        ["drift", "--output", "{scored}", "--run-id", "r1", "--model", "{registry}"],
        "run r1 was scored by model version 20250101T000000Z, not 20260101T000000Z: give --model .../20250101T000000Z",
    ),
    "missing config file": (["train", "--config", "/nonexistent.yaml"], "config file not found"),
    "password in the review database url": (
        ["users", "list", "--set", "review.database_url=postgresql://review:pw@127.0.0.1:5432/review"],
        "review.database_url must not hold a password",
    ),
    "missing review password file": (
        ["users", "list", "--set", "review.database_url=postgresql://review@127.0.0.1:5432/review",
         "--set", "review.password_file={tmp}/absent.env"], "review.password_file {tmp}/absent.env does not exist",
    ),
    "review database that cannot be opened": (
        ["verdicts", "list", "--set", "review.database_url=postgresql://review@127.0.0.1:1/review"],
        "cannot open the review database postgresql://review@127.0.0.1:1/review",
    ),
    "unknown account": (["users", "role", "nobody", "admin", "--set", "review.database_url=sqlite:///{tmp}/r.sqlite"],
                        "no account named 'nobody'"),
    "verdicts export into a scoring output": (
        ["verdicts", "export", "--output", "{scores}", "--set", "review.database_url=sqlite:///{tmp}/r.sqlite"],
        "is a scoring output folder",
    ),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_answers_in_one_line_with_exit_2(name, archive, registry, legacy_registry, tmp_path):
    args, expected = MISTAKES[name]
    fill = {"archive": archive, "registry": registry, "legacy_registry": legacy_registry, "tmp": tmp_path,
            "bad_csv": _bad_csv_archive(archive, tmp_path) if name == "csv with wrong columns" else "",
            "scored": _scored_output(tmp_path), "scores": _scoring_output(tmp_path)}
    env = {"KERAS_HOME": str(tmp_path / "empty_keras")} if name == "missing weights" else None
    code, stderr, seconds = _dermflow(*[arg.format(**fill) for arg in args], env=env)
    assert code == EXIT_USAGE, stderr
    assert len(stderr) == 1, stderr
    assert stderr[0].startswith(f"dermflow {args[0]}: ") and expected.format(**fill) in stderr[0], stderr
    assert "Traceback" not in stderr[0]
    assert seconds < FAST_S


# What the line names when model.weights=imagenet and $KERAS_HOME/models/ is empty, per backbone.
MISSING_IMAGENET_WEIGHTS = {
    "mobilenet_v2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5 does not exist",
    "inception_v3": "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 does not exist",
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 does not exist",
    "small_cnn": "has no pretrained weights: set model.weights=none",
}
WHAT_TO_DO = {
    "mobilenet_v2": "Install them with `dermflow weights install`",
    "inception_v3": "download https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/",
    "vgg19": "download https://storage.googleapis.com/tensorflow/keras-applications/vgg19/",
    "small_cnn": "set model.weights=none",
}


def test_the_weights_check_covers_every_backbone_of_the_config():
    assert set(MISSING_IMAGENET_WEIGHTS) == set(WHAT_TO_DO) == set(get_args(ModelConfig.model_fields["backbone"].annotation))


@pytest.mark.parametrize("backbone", sorted(MISSING_IMAGENET_WEIGHTS))
def test_missing_imagenet_weights_of_any_backbone_answer_before_the_job(backbone, archive, tmp_path):
    keras_models = tmp_path / "empty_keras" / "models"
    code, stderr, seconds = _dermflow(
        "train", "--data-root", str(archive), "--work-dir", str(tmp_path / "work"), "--image-size", "225",
        "--set", f"model.backbone={backbone}", env={"KERAS_HOME": str(keras_models.parent)},
    )
    assert code == EXIT_USAGE, stderr
    assert len(stderr) == 1, stderr
    assert MISSING_IMAGENET_WEIGHTS[backbone] in stderr[0] and WHAT_TO_DO[backbone] in stderr[0], stderr
    if backbone != "small_cnn":
        assert str(keras_models) in stderr[0]
    assert not (tmp_path / "work").exists(), "nothing of the job ran"
    assert seconds < FAST_S


def test_a_file_missing_inside_the_job_is_a_failure_of_the_job_not_a_mistake(archive, registry, tmp_path):
    code, stderr, seconds = _dermflow("score", "--input", str(archive), "--model", str(registry),
                                      "--output", str(tmp_path / "out"), "--set", f"paths.work_dir={tmp_path / 'work'}")
    assert code == EXIT_JOB_FAILED, stderr
    assert len(stderr) == 1, stderr
    assert stderr[0].startswith("dermflow score: failed: FileNotFoundError: ") and "labels.txt" in stderr[0], stderr
    assert stderr[0].endswith("(run with -v for the traceback)")
    assert list((tmp_path / "work" / "logs").glob("score-*.log")), "the job had started: its log file exists"

    code, stderr, _ = _dermflow("-v", "score", "--input", str(archive), "--model", str(registry),
                                "--output", str(tmp_path / "out"), "--set", f"paths.work_dir={tmp_path / 'work'}")
    assert code == EXIT_JOB_FAILED
    assert "Traceback (most recent call last):" in stderr
    assert stderr[-1].startswith("dermflow score: failed: FileNotFoundError: ") and "run with -v" not in stderr[-1]


def test_verbose_shows_the_traceback(tmp_path):
    code, stderr, _ = _dermflow("-v", "train", "--data-root", "/nonexistent")
    assert code == EXIT_USAGE
    assert stderr[0] == "Traceback (most recent call last):"
    assert stderr[-1] == "dermflow train: data root /nonexistent does not exist"


def test_help_documents_the_exit_codes_the_epoch_flags_and_the_scoring_progress():
    parser = build_parser()
    text = parser.format_help()
    for line in ("1  the job failed once it had started", "2  usage or config mistake, found before the job starts",
                 "3  train --require-push"):
        assert line in text
    score = parser._subparsers._group_actions[0].choices["score"]
    assert "files done/given, files/s and an ETA" in score.format_help()
    train = parser._subparsers._group_actions[0].choices["train"]
    flags = {option for action in train._actions for option in action.option_strings}
    assert {"--head-epochs", "--fine-tune-epochs"} <= flags and "--epochs" not in flags
