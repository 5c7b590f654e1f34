"""Results back into a real PACS: Debian's Orthanc with its DICOMweb plugin, on free loopback ports.

Two dermoscopy VL Photographic images (one RGB, one YBR JPEG) of a made-up patient are stored into
Orthanc, scored with ``--input dicomweb://...`` and SRs + segmentations stored back into the same
Orthanc; then a second Orthanc that shuts itself down mid-run shows that every store is either done
or failed, and retried by the next run. One Orthanc and one CLI scoring run are shared by the cases.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pydicom
import pytest
from PIL import Image

import dermflow
from dermflow.imaging.dicom_reader import encode_dicom, hash_uid

pytestmark = pytest.mark.e2e

PATIENT_NAME = "Fictitious^Hortensia^Qz"
PATIENT_ID = "MRN-4471-FAKE"
USER, PASSWORD = "dermflow", "pacs-test-secret"
SECRETS = (PATIENT_NAME, "Hortensia", PATIENT_ID)


def _image(scoring_model, index: int, size=(96, 72)) -> np.ndarray:
    source = sorted(scoring_model.images_dir.glob("*.jpg"))[index]
    return np.asarray(Image.open(source).convert("RGB").resize(size))


def _dermoscopy_dicom(pixels, study_uid: str, series_uid: str, number: int, jpeg: bool) -> bytes:
    return encode_dicom(pixels, pydicom.uid.generate_uid(), {
        "PatientName": PATIENT_NAME, "PatientID": PATIENT_ID, "PatientBirthDate": "19700101", "PatientSex": "F",
        "StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid, "InstanceNumber": number,
        "StudyDate": "20260105", "StudyTime": "101500", "AccessionNumber": "ACC-0099", "StudyID": "S1",
    }, jpeg_quality=92 if jpeg else None)


@pytest.fixture(scope="module")
def pacs_env():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DERMFLOW_DICOMWEB_USERNAME", USER)
        patch.setenv("DERMFLOW_DICOMWEB_PASSWORD", PASSWORD)
        yield {"DERMFLOW_DICOMWEB_USERNAME": USER, "DERMFLOW_DICOMWEB_PASSWORD": PASSWORD}


def _orthanc(root: Path, **kwargs):
    from dermflow.cluster.debian_packages import MissingServerError
    from dermflow.cluster.orthanc_server import OrthancServer, ensure_orthanc

    try:
        ensure_orthanc()
    except (MissingServerError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no Orthanc: {exc}")
    return OrthancServer(root, users={USER: PASSWORD}, **kwargs).start()


@pytest.fixture(scope="module")
def pacs(tmp_path_factory, pacs_env):
    server = _orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    server.stop()


def _web(url: str):
    from dermflow.clinical.dicomweb_credentials import DicomwebAuth
    from dermflow.clinical.dicomweb_source import client

    return client(url, DicomwebAuth(USER, PASSWORD))


@pytest.fixture(scope="module")
def study(pacs, scoring_model):
    """Two images of one made-up patient in one study: RGB, and YBR_FULL_422 JPEG."""
    study_uid, series_uid = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    files = [_dermoscopy_dicom(_image(scoring_model, i), study_uid, series_uid, i + 1, jpeg=bool(i)) for i in range(2)]
    datasets = [pydicom.dcmread(io.BytesIO(data)) for data in files]
    assert datasets[1].PhotometricInterpretation == "YBR_FULL_422"
    _web(pacs.dicomweb_url).store_instances(datasets)
    return study_uid, {str(d.SOPInstanceUID): d for d in datasets}


def _config_args(clinical: Path, pacs_url: str, *extra: str) -> list[str]:
    return [
        "--set", "beam.direct_running_mode=in_memory", "--set", "score.min_batch_size=2", "--set", "score.max_batch_size=2",
        "--set", "score.dicom_results=sr", "--set", "score.fhir_results=true", "--set", f"score.clinical_results_dir={clinical}",
        "--set", f"score.dicomweb_url={pacs_url}", "--set", "score.heatmap_png_size=16", *extra,
    ]


def _dermflow(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dermflow.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture(scope="module")
def first_run(pacs, study, scoring_model, tmp_path_factory, pacs_env):
    """``dermflow score --input dicomweb://.../studies/<uid>``, SRs into the same Orthanc (the CLI, for its logs)."""
    root = tmp_path_factory.mktemp("clinical_run")
    output, clinical, work = root / "out", root / "clinical", root / "work"
    study_uid, _ = study
    done = _dermflow(
        "score", "--input", f"dicomweb://127.0.0.1:{pacs.port}/dicom-web/studies/{study_uid}", "--model", scoring_model.spec,
        "--output", str(output), "--run-id", "clinical1", "--json", "--set", f"paths.work_dir={work}",
        *_config_args(clinical, pacs.dicomweb_url), env=pacs_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    return summary, output, clinical, work, done


def _predictions(output: Path) -> list[dict]:
    return ds.dataset(output / "predictions", format="parquet", partitioning="hive").to_table().to_pylist()


def _exports(output: Path) -> list[dict]:
    files = sorted((output / "clinical_exports").rglob("*.pq"))
    return ds.dataset(files, format="parquet", partitioning="hive").to_table().to_pylist() if files else []


def _instances(pacs, study_uid: str, modality: str) -> list[dict]:
    return _web(pacs.dicomweb_url).search_for_instances(study_instance_uid=study_uid, search_filters={"Modality": modality})


def _uid(item: dict, tag: str) -> str:
    return item[tag]["Value"][0]


def _retrieve(pacs, item: dict):
    return _web(pacs.dicomweb_url).retrieve_instance(_uid(item, "0020000D"), _uid(item, "0020000E"), _uid(item, "00080018"))


def test_both_images_are_scored_and_stored_back(first_run, study):
    summary, output, clinical, _, _ = first_run
    study_uid, sources = study
    assert (summary["files_given"], summary["scored"], summary["rejected"]) == (2, 2, 0)
    assert summary["clinical_exports"] == {"stored": 2}
    rows = _predictions(output)
    assert {row["dicom_uid_sha256"] for row in rows} == {hash_uid(uid) for uid in sources}
    for row in rows:  # the Parquet path holds hashed UIDs only
        assert row["path"] == f"dicomweb/{hash_uid(study_uid)}/{hash_uid(str(next(iter(sources.values())).SeriesInstanceUID))}/{row['dicom_uid_sha256']}.dcm"
    exports = _exports(output)
    assert sorted(row["dicom_uid_sha256"] for row in exports) == sorted(hash_uid(uid) for uid in sources)
    assert {row["status"] for row in exports} == {"stored"}
    assert stat.S_IMODE(clinical.stat().st_mode) == 0o700


def test_each_image_has_an_sr_in_its_study_that_decodes_to_the_parquet_row(first_run, study, pacs, scoring_model):
    import highdicom as hd

    from dermflow.clinical.snomed_codes import finding_concept

    summary, output, _, _, _ = first_run
    study_uid, sources = study
    rows = {row["dicom_uid_sha256"]: row for row in _predictions(output)}
    found = _instances(pacs, study_uid, "SR")
    assert len(found) == 2
    referenced = set()
    for item in found:
        sr = hd.sr.ComprehensiveSR.from_dataset(_retrieve(pacs, item))
        assert sr.StudyInstanceUID == study_uid and str(sr.PatientName) == PATIENT_NAME
        assert sr.SeriesInstanceUID not in {str(d.SeriesInstanceUID) for d in sources.values()}
        (source_uid,) = [uid for _, _, uid, _ in sr.get_evidence() if uid in sources]
        referenced.add(source_uid)
        row = rows[hash_uid(source_uid)]
        groups = sr.content.get_image_measurement_groups()
        lesion = groups[0]
        assert [image.referenced_sop_instance_uid for image in lesion.source_images] == [source_uid]
        impression = {e.name.value: e.value for e in lesion.get_qualitative_evaluations()}["121073"]
        assert impression.value == finding_concept(row["predicted_label"]).value
        probabilities = {group.finding_type.value: group.get_measurements()[0].value for group in groups[1:]}
        expected = {finding_concept(label).value: p for label, p in row["probabilities"]}
        assert probabilities.keys() == expected.keys()
        np.testing.assert_allclose([probabilities[k] for k in expected], list(expected.values()), atol=1e-6)
        texts = _text_items(sr)
        assert texts["111003"] == [summary["model_version"]] and texts["111001"] == [summary["model_name"]]
        assert texts["111002"] == [f"dermflow {dermflow.__version__}"]
        assert texts["121106"][0].startswith("Research use only")
    assert referenced == set(sources)


def _text_items(dataset) -> dict[str, list[str]]:
    """Concept code value -> the TEXT values under it, anywhere in the SR's content tree."""
    found: dict[str, list[str]] = {}
    for item in dataset.get("ContentSequence", []):
        if item.ValueType == "TEXT":
            found.setdefault(item.ConceptNameCodeSequence[0].CodeValue, []).append(str(item.TextValue))
        for code, values in _text_items(item).items():
            found.setdefault(code, []).extend(values)
    return found


def test_each_image_has_a_segmentation_on_its_pixel_grid(first_run, study, pacs):
    import highdicom as hd

    study_uid, sources = study
    found = _instances(pacs, study_uid, "SEG")
    assert len(found) == 2
    for item in found:
        seg = hd.seg.Segmentation.from_dataset(_retrieve(pacs, item))
        (source_uid,) = {ref.ReferencedSOPInstanceUID for series in seg.ReferencedSeriesSequence
                         for ref in series.ReferencedInstanceSequence}
        source = sources[source_uid]
        assert (seg.Rows, seg.Columns) == (source.Rows, source.Columns)
        assert seg.SegmentationType == "FRACTIONAL" and seg.StudyInstanceUID == study_uid
        assert seg.pixel_array.max() > 0


def test_dciodvfy_finds_no_error_in_the_sr_and_the_segmentation(first_run):
    _, _, clinical, _, _ = first_run
    written = sorted((clinical / "dicom").rglob("*.dcm"))
    assert len(written) == 4 and all(path.stat().st_mode & 0o077 == 0 for path in written)
    for path in written:
        done = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True, timeout=60)
        errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]
        assert not errors, f"{path.name}: {errors}"


def test_fhir_ndjson_per_run_validates_and_carries_the_parquet_probabilities(first_run):
    from fhir.resources.R4B import get_fhir_model_class

    summary, output, clinical, _, _ = first_run
    run_dir = Path(summary["fhir_dir"])
    assert run_dir.parent == clinical / "fhir"
    resources = [json.loads(line) for path in sorted(run_dir.glob("*.ndjson")) for line in path.read_text().splitlines()]
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    reports = [r for r in resources if r["resourceType"] == "DiagnosticReport"]
    assert len(reports) == 2 and all(r["subject"]["identifier"]["value"] == PATIENT_ID for r in reports)
    assert summary["fhir_resources"] == {"Device": 1, "DiagnosticReport": 2, "Observation": 8}


def test_a_rescore_replaces_the_results_in_the_pacs(first_run, study, pacs, scoring_model, tmp_path, pacs_env):
    from dermflow.config import load_config
    from dermflow.pipelines.scoring_pipeline import run_scoring

    study_uid, _ = study
    before = {m: len(_instances(pacs, study_uid, m)) for m in ("SR", "SEG", "XC")}
    overrides = [arg for arg in _config_args(tmp_path / "clinical", pacs.dicomweb_url) if arg != "--set"]
    cfg = load_config(None, [*overrides, "score.skip_scored=false"])
    summary = run_scoring(cfg, [f"dicomweb://127.0.0.1:{pacs.port}/dicom-web/studies/{study_uid}"], scoring_model.spec,
                          tmp_path / "out", run_id="again")
    assert summary["scored"] == 2 and summary["clinical_exports"] == {"stored": 2}
    assert {m: len(_instances(pacs, study_uid, m)) for m in ("SR", "SEG", "XC")} == before
    assert (before["SEG"], before["XC"]) == (2, 2) and before["SR"] in (2, 3)  # 3: after the amended SR test


def test_a_verdict_goes_back_as_an_amended_sr_that_references_the_first(first_run, study, pacs):
    from datetime import datetime, timezone

    import highdicom as hd

    from dermflow.clinical.result_export import ExportSettings
    from dermflow.clinical.sr_writer import Verdict
    from dermflow.clinical.verdict_amendment import amend_with_verdict

    summary, output, clinical, _, _ = first_run
    study_uid, sources = study
    row = _predictions(output)[0]
    settings = ExportSettings(str(clinical), "verdicts", "sr", False, pacs.dicomweb_url)
    verdict = Verdict(label="NV", agrees=row["predicted_label"] == "NV", recorded_at=datetime(2026, 1, 9, tzinfo=timezone.utc))
    amended = amend_with_verdict(settings, str(output / "predictions"), summary["model_version"], row["sha256"], verdict)
    assert amended.outcome.status == "stored"
    found = {_uid(item, "00080018"): item for item in _instances(pacs, study_uid, "SR")}
    assert len(found) == 3
    sr = hd.sr.ComprehensiveSR.from_dataset(_retrieve(pacs, found[amended.sop_instance_uid]))
    (predecessor,) = [ref.ReferencedSOPInstanceUID for study_item in sr.PredecessorDocumentsSequence
                      for series in study_item.ReferencedSeriesSequence for ref in series.ReferencedSOPSequence]
    first = hd.sr.ComprehensiveSR.from_dataset(_retrieve(pacs, found[predecessor]))
    assert [uid for _, _, uid, _ in first.get_evidence()] == [uid for _, _, uid, _ in sr.get_evidence()]
    assert hash_uid([uid for _, _, uid, _ in sr.get_evidence() if uid in sources][0]) == row["dicom_uid_sha256"]
    assert str(sr.PatientName) == PATIENT_NAME and _text_items(sr)["121106"][0].startswith("Amended: a clinician")


def _text_of(path: Path) -> str:
    if path.suffix in (".parquet", ".pq"):
        return str(pq.read_table(path).to_pylist())
    return path.read_bytes().decode("latin-1")


def test_the_patient_is_named_only_in_the_clinical_folder_and_the_pacs(first_run, study):
    summary, output, clinical, work, done = first_run
    study_uid, sources = study
    raw_uids = (study_uid, *sources)
    places = [p for p in [*output.rglob("*"), *(work / "logs").rglob("*")] if p.is_file()]
    assert any(p.suffix == ".log" for p in places) and any(p.name.startswith("gallery-") for p in places)
    assert any(p.name.startswith("isic_submission-") for p in places) and any(p.parent.name == "runs" for p in places)
    for path in places:
        text = _text_of(path)
        for secret in (*SECRETS, *raw_uids):
            assert secret not in text, f"{secret} in {path}"
            assert secret not in str(path.relative_to(path.anchor)), f"{secret} in a name: {path}"
    for secret in (*SECRETS, *raw_uids):
        assert secret not in done.stdout + done.stderr
    assert PATIENT_NAME in "".join(_text_of(p) for p in (clinical / "dicom").rglob("*-sr.dcm"))  # where it belongs
    for path in clinical.rglob("*"):
        assert not any(secret in path.name for secret in (*SECRETS, *raw_uids))


def test_bad_credentials_and_a_wrong_url_fail_in_one_line_before_the_job(pacs, study, scoring_model, tmp_path):
    study_uid, _ = study
    common = ["score", "--model", scoring_model.spec, "--output", str(tmp_path / "out")]
    dicomweb_input = f"dicomweb://127.0.0.1:{pacs.port}/dicom-web/studies/{study_uid}"
    cases = {
        "bad credentials": ([*common, "--input", dicomweb_input, *_config_args(tmp_path / "c", pacs.dicomweb_url)],
                            {"DERMFLOW_DICOMWEB_USERNAME": USER, "DERMFLOW_DICOMWEB_PASSWORD": "wrong"}, "refused the credentials"),
        "wrong url": ([*common, "--input", str(tmp_path), *_config_args(tmp_path / "c", f"http://127.0.0.1:{pacs.port}/nowhere")],
                      {"DERMFLOW_DICOMWEB_USERNAME": USER, "DERMFLOW_DICOMWEB_PASSWORD": PASSWORD}, "is no DICOMweb root"),
    }
    for name, (args, env, expected) in cases.items():
        done = _dermflow(*args, env=env, timeout=120)
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (name, lines)
        assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()
        assert PASSWORD not in done.stderr and "wrong" not in lines[0]


@pytest.fixture(scope="module")
def dying_pacs_runs(scoring_model, tmp_path_factory, pacs_env):
    """Four images from files; the PACS shuts itself down after the first image's SR and segmentation.

    Then it comes back, and the next run, given the same files, retries what failed. Also in the folder:
    a DICOM without a Study Instance UID and a non-image DICOM (an SR), which are error rows.
    """
    from dermflow.config import load_config
    from dermflow.pipelines.scoring_pipeline import run_scoring

    root = tmp_path_factory.mktemp("dying_pacs")
    inputs = root / "inputs"
    inputs.mkdir()
    study_uid, series_uid = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    for i in range(4):
        (inputs / f"lesion{i}.dcm").write_bytes(_dermoscopy_dicom(_image(scoring_model, 2 + i), study_uid, series_uid, i + 1, i % 2 == 1))
    no_study = pydicom.dcmread(io.BytesIO(_dermoscopy_dicom(_image(scoring_model, 7), study_uid, series_uid, 9, False)))
    del no_study.StudyInstanceUID
    no_study.save_as(inputs / "no_study.dcm", enforce_file_format=True)
    report = pydicom.dcmread(io.BytesIO(_dermoscopy_dicom(_image(scoring_model, 8), study_uid, series_uid, 10, False)))
    report.SOPClassUID = report.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    report.save_as(inputs / "report.dcm", enforce_file_format=True)
    server = _orthanc(root / "orthanc", shutdown_after_instances=2)
    overrides = [arg for arg in _config_args(root / "clinical", server.dicomweb_url) if arg != "--set"]
    cfg = load_config(None, [*overrides, "score.fhir_results=false", "score.dicomweb_store_attempts=2",
                             "score.dicomweb_backoff_seconds=0.2", "score.min_batch_size=1", "score.max_batch_size=1"])
    try:
        first = run_scoring(cfg, [str(inputs)], scoring_model.spec, root / "out", run_id="dying")
        server.wait_stopped()
        went_away = not server.running()
        server.restart(shutdown_after_instances=0)
        second = run_scoring(cfg, [str(inputs)], scoring_model.spec, root / "out", run_id="back")
        in_pacs = {m: len(_web(server.dicomweb_url).search_for_instances(
            study_instance_uid=study_uid, search_filters={"Modality": m})) for m in ("SR", "SEG")}
    finally:
        server.stop()
    return first, second, went_away, in_pacs, root / "out"


def test_a_pacs_going_away_leaves_every_store_done_or_failed_and_retried(dying_pacs_runs):
    first, second, went_away, in_pacs, output = dying_pacs_runs
    assert went_away
    assert (first["scored"], first["rejected"]) == (4, 2)
    by_run = {}
    for row in _exports(output):
        by_run.setdefault(row["run_id"], []).append(row)
    assert len(by_run["dying"]) == 4 and {row["status"] for row in by_run["dying"]} <= {"stored", "failed"}
    failed = {row["sha256"] for row in by_run["dying"] if row["status"] == "failed"}
    assert failed and {row["reason"] for row in by_run["dying"] if row["status"] == "failed"} == {"pacs_unreachable"}
    assert (second["scored"], second["skipped_already_scored"], second["rejected"]) == (0, 4, 2)
    assert {row["sha256"] for row in by_run["back"]} == failed and {row["status"] for row in by_run["back"]} == {"stored"}
    assert second["clinical_exports_retried"] == len(failed)
    assert in_pacs == {"SR": 4, "SEG": 4}


def test_a_dicom_without_study_uid_and_a_non_image_are_error_rows(dying_pacs_runs):
    _, _, _, _, output = dying_pacs_runs
    errors = ds.dataset(output / "errors", format="parquet", partitioning="hive").to_table().to_pylist()
    reasons = {(row["run_id"], row["path"]): (row["reason"], row["message"]) for row in errors}
    for run in ("dying", "back"):
        assert reasons[(run, "no_study.dcm")][0] == "incomplete_dicom"
        assert "StudyInstanceUID" in reasons[(run, "no_study.dcm")][1]
        assert reasons[(run, "report.dcm")] == ("unsupported_dicom", "DICOM SOP class 'Comprehensive SR Storage' is not an image")
