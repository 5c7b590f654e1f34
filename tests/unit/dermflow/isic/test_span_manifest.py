"""Spans of a data root, what each ingest does with them, and the CSV columns of reviewed-case spans."""
import json
import os

from dermflow.config import DataConfig, load_config
from dermflow.isic.csv_reader import read_isic_csvs
from dermflow.isic.out_of_scope_examples import is_out_of_scope_diagnosis
from dermflow.isic.span_layout import content_digest, list_spans
from dermflow.isic.span_manifest import (
    INGEST, REUSE, IngestManifest, SpanRecord, fingerprint, ingest_settings, plan_spans, read_manifest, write_manifest)

DATA = DataConfig()


def make_span(folder, names=("a.jpg",)):
    (folder / DATA.images_dir).mkdir(parents=True)
    for name in names:
        (folder / DATA.images_dir / name).write_bytes(b"jpeg")
    (folder / DATA.ground_truth_csv).write_text("image,MEL\n")
    (folder / DATA.metadata_csv).write_text("image\n")


def test_spans_are_the_base_then_spans_folders_by_name_and_bad_ones_are_named(tmp_path):
    make_span(tmp_path)
    make_span(tmp_path / "spans" / "2025-batch")
    make_span(tmp_path / "spans" / "reviewed")
    (tmp_path / "spans" / "reviewed" / "span.json").write_text(json.dumps({"kind": "reviewed"}))
    make_span(tmp_path / "spans" / "bad name")
    make_span(tmp_path / "spans" / ".staging")
    (tmp_path / "spans" / "broken").mkdir()
    (tmp_path / "spans" / "broken" / "span.json").write_text("{")
    spans, problems = list_spans(tmp_path, DATA)
    assert [(s.name, s.kind) for s in spans] == [("base", "archive"), ("2025-batch", "archive"), ("reviewed", "reviewed")]
    assert len(problems) == 2 and any("bad name" in p for p in problems) and any("not readable JSON" in p for p in problems)


def test_the_content_digest_changes_with_a_file_and_not_with_a_kept_time_copy(tmp_path):
    make_span(tmp_path / "a")
    [span] = list_spans(tmp_path / "a", DATA)[0]
    before = content_digest(span, DATA)
    assert content_digest(span, DATA) == before
    image = tmp_path / "a" / DATA.images_dir / "a.jpg"
    image.write_bytes(b"jpeg!")
    assert content_digest(span, DATA) != before
    (tmp_path / "a" / DATA.images_dir / "b.jpg").write_bytes(b"x")
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert content_digest(span, DATA) != before


def test_each_span_is_reused_or_ingested_with_its_reason(tmp_path):
    make_span(tmp_path)
    make_span(tmp_path / "spans" / "kept")
    make_span(tmp_path / "spans" / "edited")
    make_span(tmp_path / "spans" / "new")
    spans, _ = list_spans(tmp_path, DATA)
    digests = {s.name: content_digest(s, DATA) for s in spans}
    settings = ingest_settings(load_config())
    fp = fingerprint(settings)
    records = [SpanRecord("base", "archive", digests["base"], fp, "t0"), SpanRecord("kept", "archive", digests["kept"], fp, "t0"),
               SpanRecord("edited", "archive", "old", fp, "t0"), SpanRecord("gone", "archive", "x", fp, "t0", images=[["i", "", "train", "s"]])]
    previous = IngestManifest(fp, settings, {}, records)
    write_manifest(previous, tmp_path)
    previous = read_manifest(tmp_path)
    plans, removed = plan_spans(spans, digests, previous, fp, settings, lambda record: record.name != "base")
    assert [(p.span.name, p.action) for p in plans] == [
        ("base", INGEST), ("kept", REUSE), ("edited", INGEST), ("new", INGEST)]
    assert [p.reason.split(" (")[0] for p in plans] == [
        "its examples in the previous ingest's output are gone", "unchanged since t0",
        "its files changed since it was ingested", "new span"]
    assert [r.name for r in removed] == ["gone"]
    other = ingest_settings(load_config(None, ["labels.preset=binary"]))
    replans, _ = plan_spans(spans, digests, previous, fingerprint(other), other, lambda record: True)
    assert all(p.action == INGEST for p in replans)
    assert all("the ingest settings changed" in p.reason and "class_filter" in p.reason for p in replans if p.previous)


def test_reviewed_spans_may_say_other_and_carry_the_original_sha256(tmp_path):
    (tmp_path / "gt.csv").write_text("image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK,OTHER\nR1,0,0,0,0,0,0,0,0,0,1\nR2,1,0,0,0,0,0,0,0,0,0\n")
    (tmp_path / "md.csv").write_text(
        "image,age_approx,anatom_site_general,lesion_id,sex,sha256\nR1,,,L1,,%s\nR2,,,,,not-a-digest\n" % ("ab" * 32))
    table = read_isic_csvs(tmp_path / "gt.csv", tmp_path / "md.csv")
    assert [(r.image_id, r.diagnosis, r.sha256) for r in table.records] == [("R1", "OTHER", "ab" * 32), ("R2", "MEL", "")]
    assert is_out_of_scope_diagnosis("OTHER", {"MEL": "MEL"}) and not is_out_of_scope_diagnosis("UNK", {"MEL": "MEL"})
