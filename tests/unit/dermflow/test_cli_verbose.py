"""``-v`` before or after the subcommand gives the traceback; absl never reads dermflow's own arguments."""
from __future__ import annotations

import sys

import pytest
from absl import flags

from dermflow.cli import EXIT_JOB_FAILED, EXIT_USAGE, build_parser, main


@pytest.mark.parametrize("argv", [["-v", "train", "--data-root", "/nonexistent"], ["train", "--data-root", "/nonexistent", "-v"],
                                  ["train", "-v", "--data-root", "/nonexistent"]])
def test_v_anywhere_gives_the_traceback_of_a_mistake(argv, capsys):
    assert main(argv) == EXIT_USAGE
    stderr = capsys.readouterr().err
    assert "Traceback (most recent call last)" in stderr
    assert stderr.rstrip().splitlines()[-1] == "dermflow train: data root /nonexistent does not exist"


def test_without_v_a_mistake_is_one_line(capsys):
    assert main(["train", "--data-root", "/nonexistent"]) == EXIT_USAGE
    assert capsys.readouterr().err.splitlines() == ["dermflow train: data root /nonexistent does not exist"]


@pytest.mark.parametrize("argv", [["-v", "synth", "--out", "{out}"], ["synth", "--out", "{out}", "-v"]])
def test_absl_parsing_argv_inside_a_command_does_not_see_v(argv, tmp_path, monkeypatch, capsys):
    """What TFX's Beam executors do, ``FLAGS(sys.argv + beam_args, known_only=True)``, inside a failing job."""
    seen = {}

    def job_that_parses_absl_flags(*_args, **_kwargs):
        seen["argv"] = list(sys.argv)
        flags.FLAGS(sys.argv + ["--direct_num_workers=1"], known_only=True)
        raise RuntimeError("the job broke")

    monkeypatch.setattr("dermflow.synthetic.archive_writer.write_archive", job_that_parses_absl_flags)
    monkeypatch.setattr(sys, "argv", ["dermflow", *[a.format(out=tmp_path / "out") for a in argv]])
    assert main([a.format(out=tmp_path / "out") for a in argv]) == EXIT_JOB_FAILED
    stderr = capsys.readouterr().err
    assert seen["argv"] == ["dermflow"]
    assert "Traceback" in stderr and "RuntimeError: the job broke" in stderr
    assert sys.argv[1:] == [a.format(out=tmp_path / "out") for a in argv]  # given back afterwards


def test_every_subcommand_takes_v():
    parser = build_parser()
    for command in ("synth --out x", "train", "score --model m --output o", "serve --model m", "report --model m", "demo",
                    "weights install", "cluster status"):
        args = parser.parse_args([*command.split(), "-v"])
        assert args.verbose is True, command
        assert parser.parse_args(command.split()).verbose is False, command

