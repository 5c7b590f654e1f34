"""The Beam scoring job for real: a folder of synthetic lesions with bad files mixed in, a tiny trained model."""
from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pytest
from PIL import Image

from dermflow.config import load_config
from dermflow.imaging.dicom_reader import encode_dicom, hash_uid
from image_file_bytes import encode, png_header_only

pytestmark = pytest.mark.e2e

ARCHIVE_IMAGES = 16
PATIENT_NAME = "Confidential^Ottilie^Xq"
DICOM_UID = "1.2.826.0.1.3680043.8.498.99887766554433221100"
BAD_FILES = {  # relative path -> reason
    "bad/truncated.jpg": "truncated",
    "bad/empty.jpg": "empty_file",
    "bad/notes.txt": "not_an_image",
    "bad/huge.png": "too_many_pixels",
}


def _make_input_folder(model, folder: Path) -> dict[str, Path]:
    """Writes the scoring input; returns the good files' relative path -> mask (or None)."""
    sources = sorted(model.images_dir.glob("*.jpg"))[:ARCHIVE_IMAGES]
    good: dict[str, Path | None] = {}
    for index, source in enumerate(sources):
        relative = f"archive/{source.name}" if index % 2 else f"archive/nested/deeper/{source.name}"
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / relative)
        good[relative] = model.masks_dir / f"{source.stem}.png"
    rgb = np.asarray(Image.open(sources[0]).convert("RGB"))
    odd = {
        "odd/cmyk.jpg": encode(Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        "odd/sixteen_bit.png": encode(Image.fromarray((rgb[:, :, 0].astype(np.uint16) * 257)), "PNG"),
        "odd/grey.jpg": encode(Image.fromarray(rgb).convert("L"), "JPEG"),
        "odd/png_named.jpg": encode(Image.fromarray(rgb), "PNG"),
        "odd/sous dossier/lésion ñ 1.jpg": sources[1].read_bytes()[:-1] + b"\xd9",
        "odd/patient.dcm": encode_dicom(rgb, DICOM_UID, {"PatientName": PATIENT_NAME, "PatientID": "ZX-555-1234"}),
    }
    jpeg = sources[2].read_bytes()
    bad = {
        "bad/truncated.jpg": jpeg[: len(jpeg) // 2],
        "bad/empty.jpg": b"",
        "bad/notes.txt": b"patient list, not an image\n",
        "bad/huge.png": png_header_only(20_000, 20_000),
    }
    for relative, data in {**odd, **bad}.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    good.update({relative: None for relative in odd})
    return good


def _config(*overrides: str):
    return load_config(None, [
        "beam.direct_running_mode=in_memory", "score.min_batch_size=8", "score.max_batch_size=8", "score.gallery_size=5",
        "score.heatmap_png_size=32", *overrides,
    ])


def _rows(output: Path) -> list[dict]:
    return ds.dataset(output / "predictions", format="parquet", partitioning="hive").to_table().to_pylist()


@pytest.fixture(scope="module")
def first_run(scoring_model, tmp_path_factory):
    from dermflow.pipelines.scoring_pipeline import run_scoring

    root = tmp_path_factory.mktemp("scoring")
    inputs = root / "inputs"
    good = _make_input_folder(scoring_model, inputs)
    output = root / "out"
    summary = run_scoring(
        _config("score.write_overlays=true"), [str(inputs)], scoring_model.spec, output, run_id="first"
    )
    return summary, inputs, output, good


def test_every_file_is_scored_or_rejected_with_its_reason(first_run):
    summary, inputs, output, good = first_run
    assert summary["files_given"] == len(good) + len(BAD_FILES)
    assert (summary["scored"], summary["rejected"], summary["skipped_already_scored"]) == (len(good), len(BAD_FILES), 0)
    assert sorted(row["path"] for row in _rows(output)) == sorted(good)
    errors = duckdb.sql(
        f"SELECT path, reason, run_id, message FROM read_parquet('{output}/errors/**/*.pq', hive_partitioning=1)"
    ).fetchall()
    assert {path: reason for path, reason, _, _ in errors} == BAD_FILES
    assert {run_id for _, _, run_id, _ in errors} == {"first"}
    assert all(message for _, _, _, message in errors)


def test_rows_hold_probabilities_heatmaps_and_provenance(first_run, scoring_model):
    summary, inputs, output, good = first_run
    for row in _rows(output):
        probabilities = dict(row["probabilities"])
        assert list(probabilities) == scoring_model.labels
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert row["predicted_label"] == max(probabilities, key=probabilities.get)
        assert row["model_version"] == scoring_model.version and row["run_id"] == "first"
        height, width = row["gradcam_shape"]
        heatmap = np.asarray(row["gradcam"]).reshape(height, width)
        assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
        assert Image.open(io.BytesIO(row["gradcam_png"])).size == (32, 32)
        assert row["sha256"] == __import__("hashlib").sha256((inputs / row["path"]).read_bytes()).hexdigest()


def test_predictions_match_a_direct_keras_prediction(first_run, scoring_model, model_input):
    from dermflow.models import load_keras_model
    from dermflow.registry import resolve_model

    summary, inputs, output, good = first_run
    model = load_keras_model(resolve_model(scoring_model.spec).keras_file)
    rows = sorted(_rows(output), key=lambda row: row["path"])
    pixels = np.stack([model_input((inputs / row["path"]).read_bytes()) for row in rows])
    expected = model.predict(pixels, verbose=0)
    assert [row["predicted_label"] for row in rows] == [scoring_model.labels[i] for i in expected.argmax(axis=1)]
    got = np.array([[dict(row["probabilities"])[label] for label in scoring_model.labels] for row in rows])
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_heatmaps_overlap_lesion_masks_better_than_chance(first_run):
    summary, inputs, output, good = first_run
    inside_share, mask_share = [], []
    for row in _rows(output):
        if good.get(row["path"]) is None:
            continue
        mask = np.asarray(Image.open(good[row["path"]])) > 127
        heat = np.asarray(Image.open(io.BytesIO(row["gradcam_png"])).resize(mask.shape[::-1], Image.BILINEAR), np.float32)
        if heat.sum() > 0:
            inside_share.append(heat[mask].sum() / heat.sum())
            mask_share.append(mask.mean())
    assert len(inside_share) >= ARCHIVE_IMAGES - 2
    # Chance: heat spread evenly would put mask_share of it on the lesion.
    assert np.mean(inside_share) > 1.5 * np.mean(mask_share)


def test_duckdb_reads_the_hive_dataset(first_run):
    summary, inputs, output, good = first_run
    counts = duckdb.sql(
        f"SELECT predicted_label, count(*) FROM read_parquet('{output}/**/*.parquet', hive_partitioning=1) GROUP BY 1"
    ).fetchall()
    expected: dict[str, int] = {}
    for row in _rows(output):
        expected[row["predicted_label"]] = expected.get(row["predicted_label"], 0) + 1
    assert dict(counts) == expected
    assert sum(expected.values()) == len(good)


def test_dicom_is_scored_and_no_phi_is_written_anywhere(first_run):
    summary, inputs, output, good = first_run
    (dicom_row,) = [row for row in _rows(output) if row["path"] == "odd/patient.dcm"]
    assert dicom_row["format"] == "dicom" and dicom_row["dicom_uid_sha256"] == hash_uid(DICOM_UID)
    written = [path for path in output.rglob("*") if path.is_file()]
    assert len(written) > 5
    for path in written:
        data = path.read_bytes()
        for secret in (PATIENT_NAME, "Ottilie", "ZX-555-1234", DICOM_UID):
            assert secret.encode() not in data, f"{secret} found in {path}"


def test_people_get_a_gallery_an_isic_csv_and_overlays(first_run, scoring_model):
    summary, inputs, output, good = first_run
    lines = Path(summary["isic_csv"]).read_text().splitlines()
    assert lines[0] == "image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK"
    assert len(lines) == 1 + len(good)
    by_image = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert by_image["lésion ñ 1"][3:8] == ["0.0"] * 5
    assert by_image["lésion ñ 1"][8] == "0.000000"  # UNK = 1 - in_scope_score; an uncalibrated model flags nothing
    assert sum(float(value) for value in by_image["patient"][:3]) == pytest.approx(1.0, abs=1e-4)
    page = Path(summary["gallery"]).read_text()
    assert page.count("data:image/png;base64,") == 5
    overlays = sorted(p.relative_to(output / "overlays" / f"model_version={scoring_model.version}").as_posix()
                      for p in (output / "overlays").rglob("*.png"))
    assert overlays == sorted(f"{relative}.png" for relative in good)


def test_a_rerun_skips_everything_already_scored(first_run, scoring_model):
    from dermflow.pipelines.scoring_pipeline import run_scoring

    summary, inputs, output, good = first_run
    again = run_scoring(_config(), [str(inputs)], scoring_model.spec, output, run_id="second")
    assert (again["scored"], again["skipped_already_scored"], again["rejected"]) == (0, len(good), len(BAD_FILES))
    assert len(_rows(output)) == len(good)
    assert len(Path(again["isic_csv"]).read_text().splitlines()) == 1 + len(good)
    assert not (output / "_staging" / "second").exists()


def _files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def _staged_files(folder: Path) -> list[Path]:
    return [path for path in _files_under(folder) if path.name != "heartbeat"]


def test_a_killed_run_then_a_rerun_gives_one_row_per_image(scoring_model, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for source in sorted(scoring_model.images_dir.glob("*.jpg"))[:40]:
        shutil.copy(source, inputs / source.name)
    output = tmp_path / "out"
    command = [
        sys.executable, "-m", "dermflow.cli", "score", "--input", str(inputs), "--model", scoring_model.spec,
        "--output", str(output), "--set", "score.min_batch_size=4", "--set", "score.max_batch_size=4",
    ]
    # Killed while its Parquet writer has a file open (in_memory: one process, quick to start).
    killed = subprocess.Popen([*command, "--set", "beam.direct_running_mode=in_memory", "--run-id", "killed"],
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not _staged_files(output / "_staging" / "killed") and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert not list(output.rglob("*.parquet")), "a killed run must leave nothing where readers look"
    old = time.time() - 3600  # the killed run died an hour ago: its heartbeat stopped then
    for path in (output / "_staging").rglob("*"):
        os.utime(path, (old, old))

    # The re-run uses the default runner mode: DirectRunner, multi_processing, two workers.
    finished = subprocess.run([*command, "--set", "beam.direct_num_workers=2", "--run-id", "rerun"],
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    per_image = duckdb.sql(
        f"SELECT sha256, count(*) FROM read_parquet('{output}/**/*.parquet', hive_partitioning=1) GROUP BY 1"
    ).fetchall()
    assert len(per_image) == 40
    assert {count for _, count in per_image} == {1}
    assert not (output / "_staging").exists(), "the re-run removes the staging of the run that died"


def test_a_clean_run_leaves_a_zero_row_errors_file_and_no_staging(scoring_model, tmp_path):
    from dermflow.pipelines.scoring_pipeline import run_scoring

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for source in sorted(scoring_model.images_dir.glob("*.jpg"))[:3]:
        shutil.copy(source, inputs / source.name)
    output = tmp_path / "out"
    summary = run_scoring(_config(), [str(inputs)], scoring_model.spec, output, run_id="clean")
    assert (summary["scored"], summary["rejected"]) == (3, 0)
    [(count,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{output}/errors/**/*.pq', hive_partitioning=1)").fetchall()
    assert count == 0
    assert not (output / "_staging").exists()
    assert Path(summary["summary_json"]).is_file()


def test_symlink_problems_are_error_rows_and_an_all_rejected_run_still_has_predictions(scoring_model, tmp_path):
    from dermflow.pipelines.scoring_pipeline import run_scoring

    inputs = tmp_path / "inputs"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "sub" / "loop").symlink_to(inputs)
    (inputs / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (inputs / "notes.txt").write_bytes(b"not an image\n")
    output = tmp_path / "out"
    summary = run_scoring(_config(), [str(inputs)], scoring_model.spec, output, run_id="links")
    assert (summary["files_given"], summary["scored"], summary["rejected"]) == (3, 0, 3)
    assert summary["rejected_by_reason"] == {"not_an_image": 1, "unreadable": 2}
    errors = dict(duckdb.sql(f"SELECT path, reason FROM read_parquet('{output}/errors/**/*.pq', hive_partitioning=1)").fetchall())
    assert errors == {"sub/loop": "unreadable", "dangling.jpg": "unreadable", "notes.txt": "not_an_image"}
    [(rows,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{output}/predictions/**/*.parquet', hive_partitioning=1)").fetchall()
    assert rows == 0
