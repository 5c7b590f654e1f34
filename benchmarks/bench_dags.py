"""DAG parse time: dermflow's DAG files against a one-task DAG (baseline) and a DAG file that imports TFX.

Each file is parsed by ``DagBag`` in a fresh interpreter that has already imported Airflow, so
the figure is what the DAG processor pays per file. Prints seconds and ratios to the baseline.

    .venv/bin/python benchmarks/bench_dags.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

BASELINE_DAG = """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator
with DAG("baseline", schedule=None):
    EmptyOperator(task_id="noop")
"""
# What the DAG factory avoids: building the TFX pipeline at parse time to read its graph.
TFX_AT_PARSE_DAG = """
from airflow.sdk import DAG
from dermflow.tfx_runtime.pipeline_graph import compile_graph
graph = compile_graph()
with DAG("tfx_at_parse", schedule=None):
    pass
"""
PARSE = r"""
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - start
assert not bag.import_errors, bag.import_errors
print(json.dumps({"seconds": seconds, "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def parse_seconds(path: Path, env: dict[str, str]) -> tuple[float, bool]:
    out = subprocess.run([sys.executable, "-c", PARSE, str(path)], env=env, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return report["seconds"], report["tensorflow_imported"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-tfx", action="store_true", help="Leave out the slow TFX-at-parse-time case.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        (tmp_path / "baseline.py").write_text(BASELINE_DAG)
        (tmp_path / "tfx_at_parse.py").write_text(TFX_AT_PARSE_DAG)
        cases = {
            "baseline (1 EmptyOperator)": tmp_path / "baseline.py",
            "dags/dermflow_retrain.py": REPO_ROOT / "dags" / "dermflow_retrain.py",
            "dags/dermflow_score.py": REPO_ROOT / "dags" / "dermflow_score.py",
        }
        if not args.skip_tfx:
            cases["TFX imported at parse time"] = tmp_path / "tfx_at_parse.py"
        results = {}
        for name, path in cases.items():
            runs = [parse_seconds(path, env) for _ in range(args.repeats if "TFX" not in name else 1)]
            results[name] = (statistics.median(s for s, _ in runs), runs[0][1])
    baseline = results["baseline (1 EmptyOperator)"][0]
    print(f"DagBag parse time per file, median of {args.repeats} fresh interpreters (Airflow already imported)")
    print(f"{'file':32s} {'seconds':>8s} {'x baseline':>10s}  tensorflow imported")
    for name, (seconds, heavy) in results.items():
        print(f"{name:32s} {seconds:8.3f} {seconds / baseline:10.1f}  {heavy}")


if __name__ == "__main__":
    main()
