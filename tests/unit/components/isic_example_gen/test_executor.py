"""IsicExampleGen's executor on small hand-made archives, bad inputs included (Beam in-memory)."""
from collections import defaultdict

import pytest
import tensorflow as tf
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import artifact_utils, standard_artifacts

from dermflow.components.artifact_types import IngestReport
from dermflow.components.isic_example_gen.executor import Executor
from dermflow.config import load_config
from dermflow.imaging import RejectReason
from dermflow.isic.ingest_report import read_report
from dermflow.isic.archive_pairing import ArchiveError
from dermflow.isic.csv_reader import IsicCsvError

from .archive_fixtures import GROUND_TRUTH, IMAGES_DIR, balanced_rows, image_bytes, one_hot_row, write_archive, write_csvs

IN_MEMORY = BaseBeamExecutor.Context(
    beam_pipeline_args=load_config(overrides=["beam.direct_running_mode=in_memory"]).beam.pipeline_args())


def run_executor(tmp_path, data_root, *overrides):
    cfg = load_config(overrides=[f"data.data_root={data_root}", "data.max_side=32", *overrides])
    examples, report = standard_artifacts.Examples(), IngestReport()
    examples.uri, report.uri = str(tmp_path / "examples"), str(tmp_path / "report")
    Executor(IN_MEMORY).Do({}, {"examples": [examples], "ingest_report": [report]}, {"config_json": cfg.to_json()})
    return examples, read_report(report.uri), report.uri


def read_examples(examples, split):
    pattern = artifact_utils.get_split_uri([examples], split) + "/*.gz"
    dataset = tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()) for record in dataset]


def feature(example, name):
    values = example.features.feature[name]
    return values.int64_list.value[0] if values.int64_list.value else values.bytes_list.value[0]


@pytest.fixture(scope="module")
def messy_archive(tmp_path_factory):
    """Good images in four classes plus every kind of bad input the issue lists."""
    root = tmp_path_factory.mktemp("messy")
    rows = balanced_rows(6)
    rows[0]["image_id"] += "_downsampled"
    bad = {
        "ISIC_8000001": image_bytes(1)[:300],  # truncated JPEG
        "ISIC_8000002": b"",  # zero bytes
        "ISIC_8000003": b"image,MEL,NV\r\nnot a picture\r\n",  # text named .jpg
        "ISIC_8000004": image_bytes(4, size=(60, 30), fmt="PNG"),  # PNG named .jpg: accepted
        "ISIC_8000005": b"\xff\xd8\xff\xe0" + b"\x00garbage" * 20,  # JPEG magic, garbage body
    }
    rows += [{"image_id": image_id, "diagnosis": "NV"} for image_id in bad]
    images = write_archive(root, rows, bom=True, newline="\r\n")
    for image_id, data in bad.items():
        (images / f"{image_id}.jpg").write_bytes(data)
    (images / "ISIC_9000000.jpg").write_bytes(image_bytes(9))  # on disk, not in the CSV
    rows += [{"image_id": "ISIC_8000006", "diagnosis": "MEL"}]  # in the CSV, no file
    rows += [dict(rows[1], diagnosis="BCC")]  # duplicate id
    write_csvs(root, rows, bom=True)
    return root


@pytest.fixture(scope="module")
def messy_run(messy_archive, tmp_path_factory):
    return run_executor(tmp_path_factory.mktemp("out"), messy_archive)


def test_every_bad_input_is_listed_with_its_reason(messy_run):
    _, report, _ = messy_run
    reasons = {(r["image_id"], r["reason"]) for r in report["rejects"]}
    assert reasons == {
        ("ISIC_8000001", RejectReason.TRUNCATED), ("ISIC_8000002", RejectReason.EMPTY_FILE), ("ISIC_8000003", RejectReason.NOT_AN_IMAGE),
        ("ISIC_8000005", RejectReason.CORRUPT), ("ISIC_9000000", RejectReason.NOT_IN_CSV), ("ISIC_8000006", RejectReason.MISSING_IMAGE),
        ("ISIC_0000001", RejectReason.DUPLICATE_ID),
    }
    assert all(r["message"] for r in report["rejects"])


def test_files_on_disk_are_examples_or_rejects(messy_run, messy_archive):
    examples, report, _ = messy_run
    files = {str(p) for p in (messy_archive / IMAGES_DIR).iterdir()}
    example_ids = {feature(e, "image_id").decode() for split in report["split_names"] for e in read_examples(examples, split)}
    rejected_files = {r["file"] for r in report["rejects"] if r["file"]}
    assert len(files) == report["totals"]["files"] == len(example_ids) + len(rejected_files)
    assert rejected_files <= files
    assert report["totals"]["examples"] == len(example_ids) == 6 * 4 + 1


def test_counts_per_class_and_split_match_the_examples(messy_run):
    examples, report, _ = messy_run
    for split in ("train", "eval"):
        counted = defaultdict(int)
        for example in read_examples(examples, split):
            counted[feature(example, "diagnosis").decode()] += 1
        assert dict(counted) == report["counts"][split]
    assert report["class_totals"] == {"BCC": 6, "BKL": 6, "MEL": 6, "NV": 7}
    assert sum(report["counts"]["eval"].values()) > 0


def test_png_named_jpg_is_accepted_and_reencoded_as_jpeg(messy_run):
    examples, _, _ = messy_run
    by_id = {feature(e, "image_id").decode(): e for s in ("train", "eval") for e in read_examples(examples, s)}
    png = by_id["ISIC_8000004"]
    assert feature(png, "image")[:3] == b"\xff\xd8\xff"
    assert (feature(png, "width"), feature(png, "height")) == (60, 30)
    assert feature(png, "format") == b"png"  # of the source, for the drift baseline
    assert tf.io.decode_jpeg(feature(png, "image")).shape == (16, 32, 3)  # longer side 32, aspect kept


def test_example_features_follow_the_contract(messy_run, messy_archive):
    examples, _, _ = messy_run
    by_id = {feature(e, "image_id").decode(): e for s in ("train", "eval") for e in read_examples(examples, s)}
    first = by_id["ISIC_0000000_downsampled"]
    import hashlib
    source = (messy_archive / IMAGES_DIR / "ISIC_0000000_downsampled.jpg").read_bytes()
    assert feature(first, "sha256").decode() == hashlib.sha256(source).hexdigest()
    assert feature(first, "diagnosis") == b"MEL"
    assert (feature(first, "age_approx"), feature(first, "age_bucket")) == (20, b"<30")
    assert feature(first, "lesion_id") == b"HAM_0000000"
    unknown = by_id["ISIC_8000004"]
    assert (feature(unknown, "age_approx"), feature(unknown, "age_bucket"), feature(unknown, "sex"),
            feature(unknown, "anatom_site_general"), feature(unknown, "lesion_id")) == (-1, b"unknown", b"unknown", b"unknown", b"")


def test_lesions_stay_in_one_split(messy_run):
    examples, _, _ = messy_run
    splits_of = defaultdict(set)
    for split in ("train", "eval"):
        for example in read_examples(examples, split):
            if feature(example, "lesion_id"):
                splits_of[feature(example, "lesion_id")].add(split)
    assert splits_of and all(len(s) == 1 for s in splits_of.values())


def test_report_has_a_human_summary(messy_run):
    _, _, report_uri = messy_run
    summary = open(f"{report_uri}/summary.txt").read()
    assert "Ingested 25 of 30 image files" in summary and "truncated" in summary


def test_test_split_when_configured(tmp_path):
    root = tmp_path / "archive"
    write_archive(root, balanced_rows(10, codes=("MEL", "NV")))
    examples, report, _ = run_executor(tmp_path, root, "data.eval_fraction=0.2", "data.test_fraction=0.2")
    assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval", "test"]
    assert all(sum(report["counts"][s].values()) > 0 for s in ("train", "eval", "test"))


def test_wrong_header_fails_naming_the_columns(tmp_path):
    root = tmp_path / "archive"
    write_archive(root, balanced_rows(1), gt_header="image,MEL,NV,BCC,AK,BKL,DF,VASC,UNK")
    with pytest.raises(IsicCsvError, match=rf"{GROUND_TRUTH}.*\['SCC'\]"):
        run_executor(tmp_path, root)


def test_too_many_missing_images_fail(tmp_path):
    root = tmp_path / "archive"
    rows = balanced_rows(5)
    write_archive(root, rows)
    write_csvs(root, rows + [{"image_id": f"ISIC_77{i:05d}", "diagnosis": "NV"} for i in range(3)])
    with pytest.raises(ArchiveError, match=r"3 of 23 CSV rows .*max_missing_fraction"):
        run_executor(tmp_path, root, "data.max_missing_fraction=0.1")
