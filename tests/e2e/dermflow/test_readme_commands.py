"""README's "Using it" commands, as a new user runs them: KERAS_HOME unset, an empty HOME, a tiny archive.

The commands are read from README.md, so the README cannot drift from what works. Small-size flags
are appended (argparse keeps the last value), and ``make`` lines are left to their own tests.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[3]
SMALL = {
    "synth": ["--n", "48", "--image-size", "48"],
    # 48 images in whole-lesion groups are too few for a test split beside eval: test_fraction 0, as docs/trust.md allows.
    "train": ["--image-size", "33", "--head-epochs", "1", "--fine-tune-epochs", "1", "--set", "train.batch_size=16",
              "--set", "train.fine_tune_layers=10", "--set", "data.eval_fraction=0.2", "--set", "data.test_fraction=0"],
    "score": ["--set", "beam.direct_running_mode=in_memory"],
}
NOISE = ("semi_persistent_directory", "property_predicate", "oneDNN", "cuInit", "will be ignored", "I0000", "W0000")


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Using it\n.*?```bash\n(.*?)```", text, re.S).group(1)
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        if shlex.split(line, comments=True) and not line.startswith("make "):
            commands.append(line)
    return commands


def _with_small_flags(command: str) -> str:
    words = shlex.split(command, comments=True)
    if len(words) > 1 and words[0].endswith("dermflow") and words[1] in SMALL:
        words += SMALL[words[1]]
    words[0] = str(REPO_ROOT / words[0])  # .venv/bin/... of this checkout
    return shlex.join(words)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_answers(command: str, cwd: Path, env: dict) -> int:
    """Starts the long-running server on a free port, waits for its page, stops it; returns the HTTP status."""
    port = _free_port()
    server = subprocess.Popen(f"{command} --port {port}", shell=True, cwd=cwd, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    return response.status
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"{command} did not answer on port {port} (exit {server.poll()})")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


@pytest.fixture(scope="module")
def ran(tmp_path_factory, imagenet_weights) -> dict[str, subprocess.CompletedProcess]:
    cwd = tmp_path_factory.mktemp("newcomer")
    (cwd / "home").mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("KERAS_HOME", "AIRFLOW_HOME")}
    env["HOME"] = str(cwd / "home")
    results = {}
    for command in readme_commands():
        if " serve " in f"{command} ":
            results["serve"] = _serve_answers(_with_small_flags(command), cwd, env)
            continue
        done = subprocess.run(_with_small_flags(command), shell=True, cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        words = shlex.split(command, comments=True)
        results[words[1] if words[0].endswith("dermflow") else " ".join(words[:3])] = done
    results["cwd"] = cwd
    return results


def test_the_readme_walks_through_install_demo_train_score_report_and_duckdb():
    commands = readme_commands()
    assert Path(sys.executable).parent.name == "bin"
    for needed in ("dermflow synth", "dermflow train", "dermflow score", "dermflow report", "duckdb", "dermflow serve"):
        assert any(needed in command for command in commands), needed
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "make install" in text and "make demo" in text


def test_every_command_succeeds_with_the_weights_from_the_checkout(ran):
    assert ran["serve"] == 200
    train = ran["train"].stdout
    assert f"looked for in {REPO_ROOT / 'var' / 'keras' / 'models'}" in train
    assert "train: model pushed" in train or "pushed" in train
    assert "predicted_label" in ran[next(key for key in ran if "duckdb" in str(key) and "predicted" in ran[key].stdout)].stdout


def test_train_prints_a_line_per_component_and_per_epoch_and_no_third_party_noise(ran):
    out = ran["train"].stdout + ran["train"].stderr
    lines = out.splitlines()
    assert lines[0].startswith("train: full log in ")
    for component in ("IsicExampleGen", "ClassFilter", "StatisticsGen", "Trainer", "Evaluator", "RegistryPusher"):
        assert any(re.search(rf"^train: +\d+s  {component} finished in \d+s$", line) for line in lines), component
    epochs = [line for line in lines if re.match(r"^train:   phase [12] \((head|fine-tune)\) epoch 1/1  loss ", line)]
    assert len(epochs) == 2, lines
    assert all(re.search(r"eval BMA [\d.]+  \d+ img/s  ETA 0s$", line) for line in epochs)
    for noise in NOISE:
        assert noise not in out, noise
    log = (ran["cwd"] / lines[0].removeprefix("train: full log in ")).read_text(encoding="utf-8", errors="replace")
    for noise in ("semi_persistent_directory", "property_predicate", "Component Trainer is finished"):
        assert noise in log, noise


def test_score_prints_a_summary_and_leaves_zero_row_errors_and_no_staging(ran):
    import duckdb

    out = ran["score"].stdout
    assert re.search(r"^  files given : 48$", out, re.M) and re.search(r"^  rejected    : 0$", out, re.M)
    scores = ran["cwd"] / "var" / "scores"
    [(count,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{scores}/errors/**/*.pq', hive_partitioning=1)").fetchall()
    assert count == 0
    assert not (scores / "_staging").exists()
    assert re.search(r"^score: 48 files given; 0 images already scored", out, re.M)
    console = ran["score"].stdout + ran["score"].stderr
    assert "Traceback" not in console and not any(noise in console for noise in NOISE)
    assert all(line.startswith(("score: ", "  ")) for line in console.splitlines()), console
