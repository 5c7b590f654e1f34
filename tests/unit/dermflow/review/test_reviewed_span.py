"""The reviewed cases as a training span: only the bases that count, the newest verdict wins, no comment, nothing lost."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from review_workload import PASSWORD

from dermflow.config import DataConfig, load_config
from dermflow.imaging.model_input import ImagePathSettings, prepare_image
from dermflow.isic.csv_reader import read_isic_csvs
from dermflow.isic.span_layout import list_spans
from dermflow.review import add_user, correct_verdict, export_reviewed_span, record_verdict
from dermflow.review.reviewed_span import SpanExportError, find_source, image_id_of

SETTINGS = ImagePathSettings.from_config(DataConfig(max_side=64))


def jpeg(seed: int, size=(90, 70)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def store(fresh_db):
    add_user(fresh_db, "alice", "reviewer", PASSWORD)
    return fresh_db


@pytest.fixture
def inputs(tmp_path) -> Path:
    folder = tmp_path / "inputs" / "clinic"
    folder.mkdir(parents=True)
    for seed in range(6):
        (folder / f"img{seed}.jpg").write_bytes(jpeg(seed))
    return tmp_path / "inputs"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verdict(store, inputs, seed, diagnosis="MEL", basis="histopathology", **extra):
    data = (inputs / "clinic" / f"img{seed}.jpg").read_bytes()
    return record_verdict(store, reviewer="alice", sha256=sha(data), diagnosis=diagnosis, basis=basis,
                          image_path=f"clinic/img{seed}.jpg", comment="Jane Roe, born 1950", **extra)


def export(store, root, inputs, **options):
    return export_reviewed_span(store, root, ["histopathology", "consensus"], [inputs], SETTINGS, **options)


def test_the_span_holds_the_current_training_verdicts_prepared_as_scoring_prepares_them(store, inputs, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    first = verdict(store, inputs, 0, "NV", lesion_id="L-1")
    correct_verdict(store, first.id, reviewer="alice", diagnosis="MEL", basis="consensus")
    verdict(store, inputs, 1, "BCC", lesion_id="L-1")
    verdict(store, inputs, 2, "OTHER", other_text="pyogenic granuloma, see notes")
    verdict(store, inputs, 3, "MEL", basis="single_expert")  # not a training basis
    upload = jpeg(9)
    record_verdict(store, reviewer="alice", sha256=sha(upload), diagnosis="NV", basis="histopathology",
                   keep_jpeg=prepare_image(upload, SETTINGS).data)
    result = export(store, root, inputs)
    assert result.images == 4 and result.unavailable == [] and result.changed
    assert result.by_diagnosis == {"BCC": 1, "MEL": 1, "NV": 1, "OTHER": 1}
    table = read_isic_csvs(result.path / "ISIC_2019_Training_GroundTruth.csv", result.path / "ISIC_2019_Training_Metadata.csv")
    by_sha = {record.sha256: record for record in table.records}
    source0 = (inputs / "clinic" / "img0.jpg").read_bytes()
    assert by_sha[sha(source0)].diagnosis == "MEL", "the correction wins"
    assert by_sha[sha(source0)].lesion_id == "" and by_sha[sha((inputs / "clinic" / "img1.jpg").read_bytes())].lesion_id == "L-1"
    assert {r.diagnosis for r in table.records} == {"MEL", "BCC", "OTHER", "NV"}
    image = (result.path / "ISIC_2019_Training_Input" / f"{image_id_of(sha(source0))}.jpg").read_bytes()
    assert image == prepare_image(source0, SETTINGS).data
    written = b"".join(p.read_bytes() for p in result.path.rglob("*") if p.is_file())
    assert b"Jane Roe" not in written and b"granuloma" not in written
    [span] = [s for s in list_spans(root, DataConfig())[0] if s.name == "reviewed"]
    assert span.kind == "reviewed" and span.marker["images"] == 4


def test_a_verdict_whose_image_cannot_be_read_is_listed_not_lost(store, inputs, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    verdict(store, inputs, 0)
    verdict(store, inputs, 1)
    (inputs / "clinic" / "img1.jpg").write_bytes(jpeg(99))  # changed since it was scored
    record_verdict(store, reviewer="alice", sha256="ab" * 32, diagnosis="NV", basis="consensus")  # no path, not kept
    record_verdict(store, reviewer="alice", sha256="cd" * 32, diagnosis="NV", basis="consensus", image_path="gone/x.jpg")
    result = export(store, root, inputs)
    assert result.images == 1
    reasons = sorted(case["reason"].split(" (")[0].split(" [")[0] for case in result.unavailable)
    assert len(reasons) == 3
    assert any("has changed since it was scored" in r for r in reasons)
    assert any(r == "no kept upload and no image path" for r in reasons)
    assert any(r.startswith("not found under the source roots") for r in reasons)
    assert json.loads((result.path / "span.json").read_text())["unavailable"] == result.unavailable


def test_an_unchanged_export_keeps_the_span_and_moves_its_time_a_new_verdict_replaces_it(store, inputs, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    verdict(store, inputs, 0)
    first = export(store, root, inputs)
    target = first.path.resolve()
    again = export(store, root, inputs)
    assert not again.changed and first.path.resolve() == target and again.verdicts_until >= first.verdicts_until
    verdict(store, inputs, 4, "NV")
    third = export(store, root, inputs)
    assert third.changed and third.images == 2 and third.path.resolve() != target and not target.exists()
    with open(third.path / "ISIC_2019_Training_GroundTruth.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2


def test_a_hand_made_reviewed_folder_is_never_overwritten(store, inputs, tmp_path):
    root = tmp_path / "data"
    (root / "spans" / "reviewed").mkdir(parents=True)
    verdict(store, inputs, 0)
    with pytest.raises(SpanExportError, match="not the export's link"):
        export(store, root, inputs)
    with pytest.raises(SpanExportError, match="not a folder"):
        export(store, tmp_path / "nowhere", inputs)


def test_source_paths_never_leave_their_root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"x")
    (tmp_path / "root" / "ok.jpg").write_bytes(b"x")
    (tmp_path / "root" / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    assert find_source([tmp_path / "root"], "ok.jpg") == (tmp_path / "root" / "ok.jpg").resolve()
    assert [find_source([tmp_path / "root"], p) for p in ("../secret.jpg", "/etc/passwd", "link.jpg", "a//b")] == [None] * 4


def test_the_cli_writes_the_span_and_lists_what_it_could_not_read(tmp_path, inputs, capsys):
    from dermflow.cli import main

    database = f"sqlite:///{tmp_path}/review.sqlite"
    from dermflow.review import open_review_database

    db = open_review_database(database)
    add_user(db, "alice", "reviewer", PASSWORD)
    verdict(db, inputs, 0)
    record_verdict(db, reviewer="alice", sha256="ef" * 32, diagnosis="NV", basis="consensus", image_path="clinic/none.jpg")
    db.close()
    (tmp_path / "data").mkdir()
    code = main(["verdicts", "export", "--as-span", "--output", str(tmp_path / "data"), "--source-root", str(inputs),
                 "--set", f"review.database_url={database}"])
    out = capsys.readouterr().out
    assert code == 0
    assert "wrote the reviewed cases as span" in out and "1 image(s): MEL 1" in out
    assert "not in the span, its image could not be read" in out and "clinic/none.jpg" in out
    assert load_config().retrain.source_roots == []  # the default: airflow.score_inputs
