"""The monitoring tables of a run, written and read back as the web page and the review queue read them."""
import json
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dermflow.config import load_config
from dermflow.monitoring.drift_baseline import DriftBaseline
from dermflow.monitoring.monitoring_reader import audit_share_for_run, monitoring_runs, run_drift_features, run_monitoring
from dermflow.monitoring.run_drift import check_run
from dermflow.pipelines.scoring import run_monitoring as rm
from dermflow.preflight_checks import scored_by_versions
from dermflow.schemas.scores_schema import PREDICTIONS_SCHEMA
from support.monitored_rows import monitored_rows as rows

CFG = load_config().drift
BASELINE = DriftBaseline(rows(600, seed=1), "test", "")


class Registered:
    name, version = "m", "v1"


def _record(output, run_id, run_rows, when):
    drift = check_run(run_rows, BASELINE, CFG, "m/v1")
    rm.write_monitoring(str(output), run_id, drift, "m", "v1", when)
    return drift


def test_runs_read_back_oldest_first_with_drift_and_out_of_scope_rate(tmp_path):
    _record(tmp_path, "r2", rows(200, brightness=90.0), datetime(2026, 1, 2, tzinfo=timezone.utc))
    _record(tmp_path, "r1", rows(200), datetime(2026, 1, 1, tzinfo=timezone.utc))
    runs = monitoring_runs(tmp_path)
    assert [(r["run_id"], r["drift_detected"], r["drifted_features"]) for r in runs] == [
        ("r1", False, []), ("r2", True, ["mean_brightness"])]
    assert all(0 <= r["out_of_scope_rate"] < 0.2 and r["baseline_images"] == 600 for r in runs)
    features = run_drift_features(tmp_path, "r2")
    assert len(features) == 12 and features[0]["feature"] == "mean_brightness" and features[0]["drifted"]
    assert not any(f["drifted"] for f in features[1:])


def test_the_audit_share_is_raised_only_for_a_run_with_drift(tmp_path):
    _record(tmp_path, "quiet", rows(200), datetime.now(timezone.utc))
    _record(tmp_path, "shifted", rows(200, brightness=90.0), datetime.now(timezone.utc))
    assert audit_share_for_run(tmp_path, "shifted", 0.05) == CFG.audit_share
    assert audit_share_for_run(tmp_path, "shifted", 0.5) == 0.5  # never below the queue's own share
    assert audit_share_for_run(tmp_path, "quiet", 0.05) == 0.05
    assert audit_share_for_run(tmp_path, "never-checked", 0.05) == 0.05
    assert audit_share_for_run(tmp_path / "no-such-output", "x", 0.05) == 0.05


def test_a_recheck_replaces_the_runs_rows(tmp_path):
    _record(tmp_path, "r", rows(200, brightness=90.0), datetime(2026, 1, 1, tzinfo=timezone.utc))
    _record(tmp_path, "r", rows(200), datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert [r["drift_detected"] for r in monitoring_runs(tmp_path)] == [False]
    assert run_monitoring(tmp_path, "r")["status"] == "checked"


def test_monitoring_files_are_pq_so_the_predictions_glob_stays_clean(tmp_path):
    _record(tmp_path, "r", rows(60), datetime.now(timezone.utc))
    assert not list(tmp_path.rglob("*.parquet"))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.pq")) == [
        "monitoring/features/run_id=r/features-r.pq", "monitoring/runs/run_id=r/run-r.pq"]


def _publish_rows(output, run_id, table, name=None):
    folder = output / "predictions" / "model_version=v1" / "scored_date=2026-01-01"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / (name or f"part-{run_id}-00000-of-00001.parquet"))


def _prediction_rows(run_id: str, n: int, colour: bool = True) -> pa.Table:
    base = rows(n).to_pydict()
    fields = [f for f in PREDICTIONS_SCHEMA if colour or not f.name.startswith("mean_")]
    data = {f.name: base.get(f.name, [None] * n) for f in fields}
    data["run_id"] = [run_id] * n
    return pa.Table.from_pydict({k: v for k, v in data.items() if k in base or k == "run_id"},
                                schema=pa.schema([f.with_nullable(True) for f in fields if f.name in base or f.name == "run_id"]))


def test_a_runs_rows_are_those_of_every_shard_and_only_its_own(tmp_path):
    _publish_rows(tmp_path, "run", _prediction_rows("run", 30), "part-run-shard-00000-of-00002-00000-of-00001.parquet")
    _publish_rows(tmp_path, "run", _prediction_rows("run", 20), "part-run-shard-00001-of-00002-00000-of-00001.parquet")
    _publish_rows(tmp_path, "run-2", _prediction_rows("run-2", 7))  # a run whose id starts with the same letters
    table = rm.read_run_rows(str(tmp_path), "run", "v1")
    assert table.num_rows == 50 and "mean_brightness" in table.column_names
    assert scored_by_versions(tmp_path, "run") == ["v1"]
    assert rm.read_run_rows(str(tmp_path), "run", "v2").num_rows == 0


def test_rows_scored_before_the_colour_columns_read_as_missing(tmp_path):
    _publish_rows(tmp_path, "old", _prediction_rows("old", 5, colour=False))
    table = rm.read_run_rows(str(tmp_path), "old", "v1")
    assert table.column("mean_brightness").null_count == 5 and table.column("width").null_count == 0


def test_a_sharded_runs_summary_is_made_and_a_single_runs_is_kept(tmp_path):
    path = rm.record_drift_in_run_summary(str(tmp_path), "sharded", Registered, {"status": "checked"})
    assert json.loads(open(path).read()) == {"run_id": "sharded", "model_name": "m", "model_version": "v1",
                                             "output": str(tmp_path), "drift": {"status": "checked"}, "summary_json": path}
    (tmp_path / "runs" / "single.json").write_text(json.dumps({"run_id": "single", "scored": 4}))
    rm.record_drift_in_run_summary(str(tmp_path), "single", Registered, {"status": "no_baseline"})
    kept = rm.read_run_summary(str(tmp_path), "single")
    assert kept["scored"] == 4 and kept["drift"] == {"status": "no_baseline"}


def test_the_console_lines_say_what_was_found_and_where():
    lines = rm.drift_lines({"note": "no drift: ...", "monitoring_dir": "/out/monitoring"})
    assert lines[0].endswith("no drift: ...") and "/out/monitoring" in lines[1]
    assert rm.drift_lines({}) == []
    assert "checked once, over every shard" in rm.deferred_drift("shard-00000-of-00002")["note"]
