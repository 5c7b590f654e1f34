"""Every user mistake: a documented exit code, exactly one line on stderr naming it, no traceback, fast."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dermflow.cli import EXIT_USAGE, build_parser

FAST_S = 15.0  # about a second alone; generous for a shared 2-core CI machine


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    from dermflow.synthetic.archive_writer import write_archive

    root = tmp_path_factory.mktemp("archive")
    write_archive(root, n=8, seed=0, image_size=32)
    return root


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    """Just enough of a registry for the model to resolve (the scoring checks never load it)."""
    root = tmp_path_factory.mktemp("registry")
    (root / "dermflow_mobilenet_v2" / "20260101T000000Z" / "saved_model").mkdir(parents=True)
    (root / "dermflow_mobilenet_v2" / "LATEST").write_text("20260101T000000Z\n")
    return root


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
    "empty registry": (["score", "--input", "{archive}", "--model", "{tmp}", "--output", "{tmp}/out"], "no pushed model"),
    "input matching nothing": (["score", "--input", "/nonexistent", "--model", "{registry}", "--output", "{tmp}/out"],
                               "--input '/nonexistent' matches no file"),
    "glob matching nothing": (["score", "--input", "{archive}/*.tiff", "--model", "{registry}", "--output", "{tmp}/out"],
                              "matches no file"),
    "unwritable output": (["score", "--input", "{archive}", "--model", "{registry}", "--output", "/proc/version/out"],
                          "output folder /proc/version/out cannot be made"),
    "no input at all": (["score", "--model", "{registry}", "--output", "{tmp}/out"], "give --input or --files-from"),
    "missing report model": (["report", "--model", "/nonexistent"], "model not found"),
    "missing config file": (["train", "--config", "/nonexistent.yaml"], "config file not found"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_answers_in_one_line_with_exit_2(name, archive, registry, tmp_path):
    args, expected = MISTAKES[name]
    fill = {"archive": archive, "registry": registry, "tmp": tmp_path,
            "bad_csv": _bad_csv_archive(archive, tmp_path) if name == "csv with wrong columns" else ""}
    env = {"KERAS_HOME": str(tmp_path / "empty_keras")} if name == "missing weights" else None
    code, stderr, seconds = _dermflow(*[arg.format(**fill) for arg in args], env=env)
    assert code == EXIT_USAGE, stderr
    assert len(stderr) == 1, stderr
    assert stderr[0].startswith(f"dermflow {args[0]}: ") and expected in stderr[0], stderr
    assert "Traceback" not in stderr[0]
    assert seconds < FAST_S


def test_verbose_shows_the_traceback(tmp_path):
    code, stderr, _ = _dermflow("-v", "train", "--data-root", "/nonexistent")
    assert code == EXIT_USAGE
    assert stderr[0] == "Traceback (most recent call last):"
    assert stderr[-1] == "dermflow train: data root /nonexistent does not exist"


def test_help_documents_the_exit_codes_and_the_epoch_flags():
    parser = build_parser()
    text = parser.format_help()
    for line in ("1  the job failed", "2  usage or config mistake", "3  train --require-push"):
        assert line in text
    train = parser._subparsers._group_actions[0].choices["train"]
    flags = {option for action in train._actions for option in action.option_strings}
    assert {"--head-epochs", "--fine-tune-epochs"} <= flags and "--epochs" not in flags
