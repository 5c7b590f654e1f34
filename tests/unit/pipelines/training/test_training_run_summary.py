"""What `dermflow train` reports: the Evaluator's and the ArtefactCheck's verdicts together, and which artefact failed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dermflow.pipelines.training import training_run_summary
from dermflow.pipelines.training.training_run_summary import format_result, summarize_training
from support.artefact_reports import ARTEFACT_SUMMARY

FAILED_REPORT = {
    "passed": False, "gated": True, "max_flip_rate": 0.05, "failed_kinds": ["ruler"], "images": {"NV": 40},
    "lesion_mass_clean": 0.4,
    "reason": "artefact check failed (eval.max_artefact_flip_rate 5.0%): ruler changes 17.5% of labels (NV 7/40 -> MEL 7)",
    "artefacts": {
        "ruler": {"flip_rate": 0.175, "max_class_flip_rate": 0.175, "lesion_mass_after": 0.2, "passed": False,
                  "per_class": {"NV": {"n": 40, "flips": 7, "flip_rate": 0.175, "flipped_to": {"MEL": 7}}}},
        "hair": {"flip_rate": 0.0, "max_class_flip_rate": 0.0, "lesion_mass_after": 0.4, "passed": True,
                 "per_class": {"NV": {"n": 40, "flips": 0, "flip_rate": 0.0, "flipped_to": {}}}},
    },
}


def _nodes(tmp_path: Path, blessed: int, report: dict | None) -> dict:
    nodes = {
        "Evaluator": {"state": "COMPLETE", "outputs": {
            "evaluation": [{"uri": str(tmp_path / "evaluation"), "custom_properties": {}}],
            "blessing": [{"uri": str(tmp_path / "blessing"), "custom_properties": {"blessed": blessed}}]}},
        "RegistryPusher": {"state": "COMPLETE", "outputs": {"pushed_model": [{"uri": "", "custom_properties": {"pushed": 0}}]}},
    }
    if report is not None:
        (tmp_path / "check").mkdir()
        (tmp_path / "check" / "artefact_check.json").write_text(json.dumps(report))
        nodes["ArtefactCheck"] = {"state": "COMPLETE", "outputs": {
            "artefact_report": [{"uri": str(tmp_path / "check"), "custom_properties": {"passed": int(report["passed"])}}]}}
    return nodes


@pytest.fixture(autouse=True)
def _evaluator_figures(monkeypatch):
    monkeypatch.setattr(training_run_summary, "read_eval_metrics", lambda uri, labels: {"overall": {"isic_balanced_accuracy": 0.8}})
    monkeypatch.setattr(training_run_summary, "blessing_reason", lambda blessed, uri, metrics: (
        "blessed: isic_balanced_accuracy = 0.8000 passed every threshold" if blessed
        else "not blessed: isic_balanced_accuracy = 0.8000 is below the minimum 0.9000 on slice overall"))


def test_a_model_the_evaluator_blessed_but_the_artefact_check_failed_is_not_blessed_and_the_artefact_is_named(tmp_path):
    result = summarize_training(_nodes(tmp_path, blessed=1, report=FAILED_REPORT), "run-1")
    assert result["blessed"] is False
    assert result["reason"].startswith("not blessed: artefact check failed (eval.max_artefact_flip_rate 5.0%): ruler")
    assert "(isic_balanced_accuracy = 0.8000 passed every threshold)" in result["reason"]
    assert result["artefacts"]["failed_kinds"] == ["ruler"]
    text = format_result(result)
    assert "labels changed by pasted artefacts: ruler 17.5% FAILED, hair 0.0%" in text


def test_both_verdicts_are_said_when_both_pass_and_without_a_check_only_the_evaluators(tmp_path):
    passed = summarize_training(_nodes(tmp_path, blessed=1, report={**FAILED_REPORT, "passed": True, "failed_kinds": [],
                                                                    "reason": ARTEFACT_SUMMARY["reason"]}), "run-2")
    assert passed["blessed"] is True and passed["reason"].endswith("; " + ARTEFACT_SUMMARY["reason"])
    (tmp_path / "older").mkdir()
    older = summarize_training(_nodes(tmp_path / "older", blessed=0, report=None), "run-3")
    assert older["blessed"] is False and older["artefacts"] is None and "below the minimum" in older["reason"]
