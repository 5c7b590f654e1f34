"""The drift check of real scoring runs (Beam, TFDV), against the tiny model's baseline of held-out synthetic images.

An unshifted batch (other synthetic images of the same kind) stays quiet; the same images under another
light (brighter, with a blue cast, as a new dermatoscope or lamp would make them) drift, and the run says
which features and by how much. The run summary, the monitoring tables, the page's rows and the review
queue's audit share all follow; a model exported without a baseline gets a note, never a crash.
"""
from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from dermflow.config import load_config

pytestmark = pytest.mark.e2e

BATCH = 200  # of the same synthetic kind as the baseline's 400 held-out images (another seed)


def _config(*overrides: str):
    return load_config(None, ["beam.direct_running_mode=in_memory", "score.min_batch_size=16", "score.max_batch_size=16",
                              "score.gallery_size=2", "score.heatmap_png_size=16", *overrides])


def _lit_differently(data: bytes) -> bytes:
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)
    shifted = np.clip(pixels * np.array([1.15, 1.3, 1.6]) + 20, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(shifted).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def runs(scoring_model, tmp_path_factory):
    from dermflow.pipelines.scoring_pipeline import run_scoring, scoring_summary_text
    from dermflow.synthetic.archive_writer import write_archive

    root = tmp_path_factory.mktemp("drift")
    write_archive(root / "fresh", n=BATCH, seed=2, image_size=48)
    fresh = sorted((root / "fresh" / "ISIC_2019_Training_Input").glob("*.jpg"))
    (root / "shifted").mkdir()
    for path in fresh:
        (root / "shifted" / path.name).write_bytes(_lit_differently(path.read_bytes()))
    output = root / "out"
    quiet = run_scoring(_config(), [str(root / "fresh" / "ISIC_2019_Training_Input")], scoring_model.spec, output,
                        run_id="quiet")
    shifted = run_scoring(_config(), [str(root / "shifted")], scoring_model.spec, output, run_id="shifted")
    return {"quiet": quiet, "shifted": shifted, "output": output, "text": scoring_summary_text(shifted), "root": root}


def test_an_unshifted_batch_is_checked_and_stays_quiet(runs, scoring_model):
    drift = runs["quiet"]["drift"]
    assert (drift["status"], drift["drift_detected"], drift["scored"]) == ("checked", False, BATCH)
    assert drift["baseline_split"] == "test" and drift["baseline_images"] == scoring_model.baseline_images
    assert len(drift["features"]) == 12 and drift["audit_share"] is None
    assert drift["note"].startswith("no drift: 12 features within their thresholds"), drift["note"]


def test_a_lighting_shift_drifts_with_its_reason(runs):
    drift = runs["shifted"]["drift"]
    assert (drift["status"], drift["drift_detected"]) == ("checked", True)
    assert {"mean_brightness", "mean_blue"} <= set(drift["drifted_features"]), drift["note"]
    assert not {"width", "height", "format"} & set(drift["drifted_features"])  # same size, same format
    brightness = next(f for f in drift["features"] if f["feature"] == "mean_brightness")
    assert brightness["distance"] > brightness["threshold"] and brightness["comparator"] == "jensen_shannon_divergence"
    assert drift["note"].startswith("DRIFT in ") and "mean_brightness JS" in drift["note"]
    assert "  drift       : DRIFT in " in runs["text"] and "monitoring" in runs["text"]
    written = json.loads(open(runs["shifted"]["summary_json"]).read())
    assert written["drift"]["drifted_features"] == drift["drifted_features"]


def test_the_page_and_the_review_queue_read_each_run_back(runs):
    from dermflow.monitoring.monitoring_reader import audit_share_for_run, monitoring_runs, run_drift_features

    output = runs["output"]
    rows = monitoring_runs(output)
    assert [(r["run_id"], r["drift_detected"], r["scored"]) for r in rows] == [("quiet", False, BATCH), ("shifted", True, BATCH)]
    assert all(r["out_of_scope_rate"] is not None for r in rows)
    features = run_drift_features(output, "shifted")
    assert features[0]["drifted"] and features[0]["feature"] in runs["shifted"]["drift"]["drifted_features"]
    assert audit_share_for_run(output, "shifted", 0.05) == load_config().drift.audit_share
    assert audit_share_for_run(output, "quiet", 0.05) == 0.05
    assert not [p for p in output.rglob("*.parquet") if "predictions" not in p.parts]


def test_a_recheck_of_a_run_gives_the_same_verdict(runs, scoring_model):
    from dermflow.pipelines.scoring.run_monitoring import recheck_run
    from dermflow.registry import resolve_model

    summary = recheck_run(_config(), str(runs["output"]), "shifted", resolve_model(scoring_model.spec))
    assert summary["drift"]["drifted_features"] == runs["shifted"]["drift"]["drifted_features"]
    assert summary["scored"] == BATCH  # the run's own summary is kept around the new drift section


def test_a_model_without_a_baseline_says_so_and_scores_as_before(runs, scoring_model, tmp_path):
    from dermflow.models.export_layout import DRIFT_BASELINE_FILE
    from dermflow.pipelines.scoring_pipeline import run_scoring
    from dermflow.registry import resolve_model

    registered = resolve_model(scoring_model.spec)
    older = tmp_path / "registry" / registered.name / registered.version
    shutil.copytree(registered.path, older)
    (older / "saved_model" / "assets.extra" / DRIFT_BASELINE_FILE).unlink()
    few = tmp_path / "few"
    few.mkdir()
    for path in sorted((runs["root"] / "shifted").iterdir())[:3]:
        shutil.copy(path, few / path.name)
    summary = run_scoring(_config(), [str(few)], str(older), tmp_path / "out", run_id="old")
    assert summary["scored"] == 3
    assert (summary["drift"]["status"], summary["drift"]["drift_detected"]) == ("no_baseline", None)
    assert summary["drift"]["note"].startswith("no drift baseline:")
