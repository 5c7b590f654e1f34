"""``dermflow demo``: the whole job through Airflow, on a synthetic archive, on this machine.

1. writes a synthetic ISIC-layout archive under ``var/demo/archive`` (kept for later runs);
2. resolves ``configs/demo.yaml`` to ``var/demo/dermflow.yaml`` (absolute paths; falls back to
   random weights when the ImageNet ones are not installed);
3. ``airflow db migrate`` on SQLite in a project-local ``AIRFLOW_HOME`` (``var/airflow``);
4. ``airflow dags test dermflow_retrain`` (one task per TFX node), then
   ``airflow dags test dermflow_score`` on the archive's images;
5. prints where the model, its report and the Parquet results are.

Airflow's full output goes to ``var/demo/logs/``; the console shows one line per task.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from dermflow.config import ModelConfig, load_config, read_config_yaml
from dermflow.runtime_environment import apply_runtime_environment, explicit_value

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO_ROOT / "configs" / "demo.yaml"
PROGRESS = (
    (re.compile(r"\[DAG TEST\] starting task_id=(\S+)"), "{} ..."),
    (re.compile(r"\[DAG TEST\] end task task_id=(\S+)"), "{} finished"),
    (re.compile(r"DagRun Finished: dag_id=(\S+),.*state=(\w+)"), "{} run: {}"),
    (re.compile(r"(\w+(?:Error|Exception): .*)"), "{}"),
)


class DemoError(RuntimeError):
    pass


def resolved_demo_config(var: Path, config: Path = DEMO_CONFIG) -> Path:
    """Writes ``config`` with absolute paths (Airflow tasks may run elsewhere) to ``var/demo/dermflow.yaml``."""
    data = read_config_yaml(config.read_text(encoding="utf-8"))
    for key in ("work_dir", "registry"):
        data["paths"][key] = str((REPO_ROOT / data["paths"][key]).resolve())
    data["airflow"]["score_output"] = str((REPO_ROOT / data["airflow"]["score_output"]).resolve())
    if not imagenet_weights_available(data):
        print("demo: ImageNet weights not installed (`dermflow weights install`); training from random weights")
        data["model"].update(weights="none", alpha=0.35)
    out = var / "demo" / "dermflow.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    load_config(out)  # fail here, not in a task, when the file is wrong
    return out


def imagenet_weights_available(data: dict) -> bool:
    from dermflow.weights import WeightsNotFoundError, resolve_backbone_weights

    model = ModelConfig.model_validate(data.get("model", {}))
    if model.weights != "imagenet":
        return True
    try:
        resolve_backbone_weights(model.backbone, "imagenet", model.alpha, model.image_size)
    except WeightsNotFoundError:
        return False
    return True


def ensure_archive(archive: Path, ground_truth_csv: str, n: int, image_size: int) -> Path:
    from dermflow.synthetic.archive_writer import write_archive

    if (archive / ground_truth_csv).is_file():
        print(f"demo: reusing the synthetic archive in {archive}")
    else:
        print(f"demo: writing a synthetic archive of {n} images ({image_size} px) to {archive}")
        write_archive(archive, n=n, seed=0, image_size=image_size)
    return archive


def airflow_env(var: Path, config: Path) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "AIRFLOW_HOME": explicit_value("AIRFLOW_HOME") or str(var / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "KERAS_HOME": os.environ.get("KERAS_HOME") or str(REPO_ROOT / "var" / "keras"),
        "DERMFLOW_CONFIG": str(config),
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),  # Airflow runs `airflow` from PATH
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }


def progress_message(line: str) -> str | None:
    """The console line for one line of Airflow output: task starts and ends, run states, errors."""
    for pattern, template in PROGRESS:
        match = pattern.search(line)
        if match:
            return template.format(*match.groups())[:300]
    return None


def run_airflow(args: list[str], env: dict[str, str], log_file: Path) -> None:
    """Runs ``airflow ARGS``, full output to ``log_file``, task progress to the console."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    print(f"demo: airflow {' '.join(args)}   (log: {log_file})", flush=True)
    with open(log_file, "w", encoding="utf-8") as log, subprocess.Popen(
        [airflow, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            message = progress_message(line)
            if message:
                print(f"  {time.monotonic() - start:6.0f}s  {message}", flush=True)
        code = process.wait()
    if code != 0:
        raise DemoError(f"airflow {' '.join(args[:3])} failed (exit {code}); see {log_file}")


def run_demo(var: Path = REPO_ROOT / "var", n: int = 300, image_size: int = 128) -> dict[str, str]:
    from dermflow.registry import resolve_model
    from dermflow.evaluation.model_report import REPORT_DIR, REPORT_HTML

    var = var.resolve()
    apply_runtime_environment(airflow=False)  # KERAS_HOME: where `make install` put the ImageNet weights
    config = resolved_demo_config(var)
    cfg = load_config(config)
    archive = ensure_archive(var / "demo" / "archive", cfg.data.ground_truth_csv, n, image_size)
    env = airflow_env(var, config)
    logs = var / "demo" / "logs"
    run_airflow(["db", "migrate"], env, logs / "db_migrate.log")
    run_airflow(["dags", "test", "dermflow_retrain", "--conf", json.dumps({"data_root": str(archive)})],
                env, logs / "dermflow_retrain.log")
    model = resolve_model(Path(cfg.paths.registry) / cfg.model_name)
    run_airflow(["dags", "test", "dermflow_score", "--conf", json.dumps({"input": [str(archive / cfg.data.images_dir)]})],
                env, logs / "dermflow_score.log")
    predictions = Path(cfg.airflow.score_output) / "predictions"
    return {
        "model": str(model.path),
        "report": str(model.path / REPORT_DIR / REPORT_HTML),
        "predictions": str(predictions),
        "errors": str(Path(cfg.airflow.score_output) / "errors"),
        "airflow_home": env["AIRFLOW_HOME"],
        "logs": str(logs),
        "registry": str(model.path.parent),
        "scores": str(cfg.airflow.score_output),
        "source_root": str(archive / cfg.data.images_dir),
    }


def format_summary(result: dict[str, str]) -> str:
    query = (
        f"SELECT predicted_label, count(*) FROM read_parquet('{result['predictions']}/**/*.parquet', "
        "hive_partitioning=true) GROUP BY 1"
    )
    return "\n".join([
        "",
        "dermflow demo: done",
        f"  model version : {result['model']}",
        f"  report        : {result['report']}",
        f"  predictions   : {result['predictions']}  (Parquet, hive-partitioned)",
        f"  errors        : {result['errors']}",
        f"  airflow home  : {result['airflow_home']}  (logs: {result['logs']})",
        "",
        "Query the predictions:",
        f"  {Path(sys.executable).parent}/python -c \"import duckdb; print(duckdb.sql(\\\"{query}\\\"))\"",
        *next_step(result),
    ])


def next_step(result: dict[str, str]) -> list[str]:
    """The demo's last words: its results in the browser, and an account to record verdicts with."""
    if "scores" not in result:
        return []
    dermflow = Path(sys.executable).parent / "dermflow"
    return [
        "",
        "Next: read the results in a browser, and record what you know about them (docs/serving.md):",
        f"  {dermflow} users add \"$USER\" --role reviewer      # asks for a password",
        f"  {dermflow} serve --model {result['registry']} --results {result['scores']} --source-root {result['source_root']}",
        "  then open http://127.0.0.1:8765/results, and the review queue at http://127.0.0.1:8765/review/queue",
    ]
