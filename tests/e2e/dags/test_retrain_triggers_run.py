"""Continuous training through ``airflow dags test`` (issue 27's Done-when, without its drift step).

After test_dags_run.py trained on the archive (span ``base``; the fixture trains when run alone):
clinicians record verdicts on newly scored images through the store; the watcher DAG emits the
training-data asset event once 20 count (``airflow dags test`` runs no scheduler, so the test checks
the event was recorded, then runs the retraining DAG itself); the retraining writes the reviewed
cases as the span ``reviewed``, ingests only that span, warm-starts from the model it pushed before,
is judged on the same fixed test split, and the pushed version's lineage in ML Metadata shows both spans.
"""
from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ASSET = "dermflow-training-data-dermflow"
REGISTRY_MODEL = "dermflow_mobilenet_v2"


@pytest.fixture(scope="module")
def trained(home):
    """The first training (span base), unless test_dags_run.py already did it in this session."""
    latest = home.root / "registry" / REGISTRY_MODEL / "LATEST"
    if not latest.is_file():
        result = home.dags_test("dermflow_retrain", {"data_root": str(home.root / "archive")})
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return latest.read_text().strip()


def scored_cases(root: Path) -> list[dict]:
    """30 new images in the scoring input (clinic/), with their diagnoses and lesions (not the archive's)."""
    from dermflow.synthetic.archive_writer import write_archive

    staging = root / "new-images"
    if not staging.exists():
        write_archive(staging, n=30, seed=5, image_size=48)
        (root / "inputs" / "clinic").mkdir(parents=True)
    cases = []
    with open(staging / "ISIC_2019_Training_GroundTruth.csv") as truth, open(staging / "ISIC_2019_Training_Metadata.csv") as meta:
        lesions = {row["image"]: row["lesion_id"] for row in csv.DictReader(meta)}
        for row in csv.DictReader(truth):
            diagnosis = next(code for code, value in row.items() if code != "image" and float(value) == 1.0)
            source = staging / "ISIC_2019_Training_Input" / f"{row['image']}.jpg"
            target = root / "inputs" / "clinic" / f"scan-{row['image'][-4:]}.jpg"
            shutil.copy(source, target)
            cases.append({"path": f"clinic/{target.name}", "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
                          "diagnosis": diagnosis, "lesion_id": f"R-{lesions[row['image']]}" if lesions[row["image"]] else None})
    return cases


@pytest.fixture(scope="module")
def verdicts(home, trained):
    """21 verdicts with a training basis (one of them OTHER, one on an image deleted since), 1 single-expert one."""
    from review_workload import PASSWORD

    from dermflow.review import add_user, open_review_database, record_verdict

    cases = scored_cases(home.root)
    db = open_review_database(f"sqlite:///{home.root}/review.sqlite")
    add_user(db, "derm", "reviewer", PASSWORD)

    def record(case, **fields):
        fields = {"diagnosis": case["diagnosis"], "basis": "histopathology", **fields}
        record_verdict(db, reviewer="derm", sha256=case["sha256"], image_path=case["path"], lesion_id=case["lesion_id"],
                       comment="seen in clinic by Dr Roe", **fields)

    before = home.dags_test("dermflow_retrain_watch", {})
    for case in cases[:19]:
        record(case)
    record(cases[19], diagnosis="OTHER", other_text="pyogenic granuloma")
    record(cases[20], basis="single_expert")
    record(cases[21], basis="consensus")
    (home.root / "inputs" / cases[21]["path"]).unlink()  # its image can no longer be read
    db.close()
    return {"cases": cases, "watch_before": before}


def test_the_watcher_is_quiet_below_20_verdicts_and_emits_the_event_at_20(home, verdicts):
    assert verdicts["watch_before"].returncode == 0
    quiet = [e for e in home.asset_events(ASSET)]
    assert quiet == [], "nothing new after the first training: the watcher task is skipped, no event"
    result = home.dags_test("dermflow_retrain_watch", {})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert home.task_states("dermflow_retrain_watch") == {"watch_training_data": "success"}
    [event] = home.asset_events(ASSET)
    assert event["new_verdicts"] == 21 and "21 new verdict(s) since the start" in event["reason"]
    assert event["spans_landed"] == ""


@pytest.fixture(scope="module")
def retrained(home, verdicts, trained):
    """The retraining the event calls for (run by hand: no scheduler in ``airflow dags test``)."""
    assert home.asset_events(ASSET), "the watcher's event comes first"
    result = home.dags_test("dermflow_retrain", {"data_root": str(home.root / "archive")})
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return result


def newest_version(home) -> Path:
    model = home.root / "registry" / REGISTRY_MODEL
    return model / (model / "LATEST").read_text().strip()


def test_the_retraining_writes_the_reviewed_span_and_ingests_only_it(home, retrained, verdicts):
    assert set(home.task_states("dermflow_retrain").values()) == {"success"}
    marker = json.loads((home.root / "archive" / "spans" / "reviewed" / "span.json").read_text())
    assert marker["images"] == 20 and marker["training_bases"] == ["consensus", "histopathology"]
    [lost] = marker["unavailable"]
    assert lost["image_path"] == verdicts["cases"][21]["path"] and "not found under the source roots" in lost["reason"]
    reports = sorted((home.root / "work" / "tfx" / "IsicExampleGen" / "ingest_report").iterdir(), key=lambda p: int(p.name))
    report = json.loads((reports[-1] / "report.json").read_text())
    assert [(s["name"], s["action"], s["examples"]) for s in report["spans"]] == [("base", "reuse", 80), ("reviewed", "ingest", 20)]
    written = b"".join(p.read_bytes() for p in (home.root / "archive" / "spans" / "reviewed").rglob("*") if p.is_file())
    assert b"Dr Roe" not in written and b"granuloma" not in written


def test_it_warm_starts_and_is_judged_on_the_same_fixed_test_split(home, retrained, trained):
    output = retrained.stdout + retrained.stderr
    logs = "".join(p.read_text(errors="replace") for p in (home.root / "airflow" / "logs").rglob("*.log"))
    assert "warm start from the last blessed model" in output + logs
    registry = home.root / "registry" / REGISTRY_MODEL
    first = json.loads((registry / trained / "metrics.json").read_text())
    second = json.loads((newest_version(home) / "metrics.json").read_text())
    assert newest_version(home).name != trained
    assert first["split"] == second["split"] == "test"
    assert first["overall"]["example_count"] == second["overall"]["example_count"] > 0
    assert "isic_balanced_accuracy_diff" in second["overall"], "compared with the last blessed model"
    calibration = json.loads((newest_version(home) / "calibration.json").read_text())
    assert calibration["fit"]["split"] == "test", "the trust values are fitted anew on the test split"


def test_the_pushed_versions_lineage_in_ml_metadata_shows_both_spans(home, retrained):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(home.root / "work" / "metadata.sqlite")
    store = metadata_store.MetadataStore(config)
    version = newest_version(home).name
    [pushed] = [a for a in store.get_artifacts_by_type("PushedModel")
                if a.custom_properties["pushed_version"].string_value == version]

    def inputs_of_producer(artifact_id: int) -> list:
        [produced] = [e for e in store.get_events_by_artifact_ids([artifact_id]) if e.type == metadata_store_pb2.Event.OUTPUT]
        events = store.get_events_by_execution_ids([produced.execution_id])
        return store.get_artifacts_by_id([e.artifact_id for e in events if e.type == metadata_store_pb2.Event.INPUT])

    types = {t.id: t.name for t in store.get_artifact_types()}
    filtered = [a for a in inputs_of_producer(pushed.id) if types[a.type_id] == "Examples"]
    [ingested] = [a for a in inputs_of_producer(filtered[0].id) if types[a.type_id] == "Examples"]
    spans = json.loads(ingested.custom_properties["dermflow_spans"].string_value)
    assert [s["name"] for s in spans] == ["base", "reviewed"] and [s["examples"] for s in spans] == [80, 20]
    provenance = json.loads((newest_version(home) / "provenance.json").read_text())
    assert [s["name"] for s in provenance["data"]["spans"]] == ["base", "reviewed"]
