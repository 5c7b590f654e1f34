"""One run's check: judged, or why not; what it records for the review queue and the page."""
import pytest

from dermflow.config import load_config
from dermflow.monitoring.drift_baseline import DriftBaseline
from dermflow.monitoring.run_drift import CHECKED, DISABLED, NO_BASELINE, NOTHING_SCORED, TOO_FEW_ROWS, check_run
from support.monitored_rows import monitored_rows as rows

CFG = load_config().drift
BASELINE = DriftBaseline(rows(600, seed=1), "test", "")


def test_a_run_like_the_baseline_is_checked_and_quiet():
    drift = check_run(rows(200), BASELINE, CFG, "m/v1")
    assert (drift.status, drift.drift_detected, drift.audit_share) == (CHECKED, False, None)
    assert drift.note.startswith("no drift: 12 features within their thresholds against the model's test split (600 images)")
    summary = drift.summary()
    assert summary["drifted_features"] == [] and len(summary["features"]) == 12
    assert summary["baseline_images"] == 600 and 0 <= summary["out_of_scope_rate"] < 0.15


def test_a_darker_run_drifts_names_its_feature_and_raises_the_audit_share():
    drift = check_run(rows(200, brightness=90.0), BASELINE, CFG, "m/v1")
    assert (drift.status, drift.drift_detected, drift.drifted_features) == (CHECKED, True, ["mean_brightness"])
    assert drift.audit_share == CFG.audit_share
    assert "DRIFT in 1 of 12 features" in drift.note and "mean_brightness JS" in drift.note
    assert f"audits {CFG.audit_share:.0%}" in drift.note
    [row] = [r for r in drift.feature_rows("v1", None) if r["drifted"]]
    assert row["feature"] == "mean_brightness" and row["feature_group"] == "image"
    assert row["distance"] > row["threshold"] and row["run_summary"].startswith("mean 9")


def test_more_out_of_scope_images_drift_the_out_of_scope_rate():
    drift = check_run(rows(200, flagged=0.4), BASELINE, CFG, "m/v1")
    assert "out_of_scope" in drift.drifted_features
    assert drift.out_of_scope_rate > 0.3 and drift.baseline_out_of_scope_rate < 0.1


@pytest.mark.parametrize("run, baseline, overrides, status, said", [
    (rows(200), None, [], NO_BASELINE, "no drift baseline: m/v1 was exported without one"),
    (rows(10), BASELINE, [], TOO_FEW_ROWS, "10 images scored, fewer than drift.min_rows (50)"),
    (rows(0), BASELINE, [], NOTHING_SCORED, "the run scored no image"),
    (rows(200), BASELINE, ["drift.enabled=false"], DISABLED, "drift check off"),
])
def test_a_run_that_cannot_be_judged_says_why_and_records_its_out_of_scope_rate(run, baseline, overrides, status, said):
    drift = check_run(run, baseline, load_config(None, overrides).drift, "m/v1")
    assert (drift.status, drift.drift_detected, drift.audit_share, drift.comparison) == (status, None, None, None)
    assert said in drift.note
    assert drift.run_row("m", "v1", None)["status"] == status
    assert drift.feature_rows("v1", None) == []
    assert (drift.out_of_scope_rate is None) == (run.num_rows == 0)


def test_an_eval_split_baseline_is_named_in_the_note():
    drift = check_run(rows(200), DriftBaseline(rows(600, seed=1), "eval", "the model was trained without a test split"),
                      CFG, "m/v1")
    assert "the model's eval split (600 images; the model was trained without a test split)" in drift.note


def test_a_baseline_too_small_to_judge_against_says_so_and_judges_nothing():
    drift = check_run(rows(200, brightness=90.0), DriftBaseline(rows(21, seed=1), "test", ""), CFG, "m/v1")
    assert drift.status == "small_baseline" and drift.drift_detected is None and drift.audit_share is None
    assert "holds 21 held-out images, fewer than drift.min_baseline_images (50)" in drift.note
