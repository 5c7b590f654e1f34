"""The monitoring view's data: checked runs of every results folder, the plot's points, the queue's audit shares."""
from datetime import datetime, timezone

from dermflow.config import load_config
from dermflow.monitoring.drift_baseline import DriftBaseline
from dermflow.monitoring.run_drift import check_run
from dermflow.pipelines.scoring import run_monitoring as rm
from dermflow.serving.monitoring_routes import PLOT_HEIGHT, PLOT_MARGIN, monitored_runs, rate_plot
from dermflow.serving.review_routes import drifted_run_audit_shares
from support.monitored_rows import monitored_rows as rows

CFG = load_config().drift
BASELINE = DriftBaseline(rows(600, seed=1), "test", "")


def _record(output, run_id, run_rows, day):
    rm.write_monitoring(str(output), run_id, check_run(run_rows, BASELINE, CFG, "m/v1"), "m", "v1",
                        datetime(2026, 1, day, tzinfo=timezone.utc))


def test_runs_of_every_folder_oldest_first_with_the_features_that_moved(tmp_path):
    _record(tmp_path / "a", "quiet", rows(200), 1)
    _record(tmp_path / "b", "darker", rows(200, brightness=90.0), 2)
    runs = monitored_runs([tmp_path / "a", tmp_path / "b", tmp_path / "never-scored"])
    assert [(r["run_id"], r["drift_detected"]) for r in runs] == [("quiet", False), ("darker", True)]
    assert [f["feature"] for f in runs[1]["features"]] == ["mean_brightness"] and runs[0]["features"] == []
    assert runs[1]["results"] == str(tmp_path / "b")


def test_the_plot_has_one_point_per_run_and_marks_the_drifted_ones(tmp_path):
    _record(tmp_path, "r1", rows(200, flagged=0.02), 1)
    _record(tmp_path, "r2", rows(200, flagged=0.3, brightness=90.0), 2)
    plot = rate_plot(monitored_runs([tmp_path]))
    assert [dot["drift"] for dot in plot["dots"]] == [False, True] and len(plot["points"].split()) == 2
    assert plot["dots"][1]["y"] < plot["dots"][0]["y"]  # a higher out-of-scope rate is drawn higher
    assert all(PLOT_MARGIN <= dot["y"] <= PLOT_HEIGHT - PLOT_MARGIN for dot in plot["dots"])
    assert rate_plot([]) == {"points": "", "dots": [], "top": 0.0}


def test_only_drifted_runs_get_a_raised_audit_share(tmp_path):
    _record(tmp_path, "quiet", rows(200), 1)
    _record(tmp_path, "darker", rows(200, brightness=90.0), 2)
    assert drifted_run_audit_shares([tmp_path], 0.05) == {"darker": CFG.audit_share}
    assert drifted_run_audit_shares([tmp_path / "nothing"], 0.05) == {}
