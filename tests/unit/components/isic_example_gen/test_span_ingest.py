"""IsicExampleGen over a data root of spans: reuse, new spans only, stable splits, duplicates, removed and broken spans."""
import json
import shutil
from collections import defaultdict

import pytest
from tfx.types import artifact_utils, standard_artifacts

from dermflow.components.artifact_types import IngestReport
from dermflow.components.isic_example_gen.executor import Executor
from dermflow.config import load_config
from dermflow.isic.ingest_report import read_report
from dermflow.isic.span_manifest import SPANS_PROPERTY, read_manifest

from .archive_fixtures import IMAGES_DIR, balanced_rows, image_bytes, write_archive, write_csvs
from .test_executor import IN_MEMORY, feature, read_examples


class Runs:
    """Successive ingests of one data root, each given the previous one's Examples as TFX's resolver would."""

    def __init__(self, tmp_path, data_root):
        self.tmp_path, self.data_root, self.previous, self.count = tmp_path, data_root, None, 0

    def run(self, *overrides):
        self.count += 1
        cfg = load_config(overrides=[f"data.data_root={self.data_root}", "data.max_side=32", "data.eval_fraction=0.2",
                                     "data.test_fraction=0.2", *overrides])
        examples, report = standard_artifacts.Examples(), IngestReport()
        examples.uri = str(self.tmp_path / f"examples-{self.count}")
        report.uri = str(self.tmp_path / f"report-{self.count}")
        inputs = {"previous_examples": [self.previous]} if self.previous else {}
        Executor(IN_MEMORY).Do(inputs, {"examples": [examples], "ingest_report": [report]}, {"config_json": cfg.to_json()})
        self.previous = examples
        return examples, read_report(report.uri)


def splits_by_id(examples) -> dict[str, str]:
    return {feature(e, "image_id").decode(): split for split in artifact_utils.decode_split_names(examples.split_names)
            for e in read_examples(examples, split)}


def write_span(root, name, rows, first_seed, marker=None):
    folder = root / "spans" / name
    images = folder / IMAGES_DIR
    images.mkdir(parents=True)
    for index, row in enumerate(rows):
        (images / f"{row['image_id']}.jpg").write_bytes(image_bytes(first_seed + index))
    write_csvs(folder, rows)
    if marker is not None:
        (folder / "span.json").write_text(json.dumps(marker))
    return folder


def new_rows(prefix: int, n: int, codes=("MEL", "NV"), lesions: bool = True) -> list[dict]:
    return [{"image_id": f"ISIC_{prefix}{i:05d}", "diagnosis": codes[i % len(codes)],
             "lesion_id": f"NEW_{prefix}_{i // 2}" if lesions else ""} for i in range(n)]


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "root"
    write_archive(root, balanced_rows(10, codes=("MEL", "NV")))
    return Runs(tmp_path, root)


def test_the_base_archive_alone_ingests_as_before_and_records_one_span(runs):
    examples, report = runs.run()
    assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval", "test"]
    assert report["totals"]["examples"] == 20 and [s["name"] for s in report["spans"]] == ["base"]
    [summary] = json.loads(examples.get_string_custom_property(SPANS_PROPERTY))
    assert (summary["name"], summary["kind"], summary["examples"]) == ("base", "archive", 20)
    assert len(read_manifest(examples.uri).spans[0].images) == 20


def test_an_unchanged_span_is_reused_by_hard_links_not_encoded_again(runs):
    first, _ = runs.run()
    second, report = runs.run()
    assert [(s["name"], s["action"]) for s in report["spans"]] == [("base", "reuse")]
    assert splits_by_id(second) == splits_by_id(first)
    [old] = (p for p in (runs.tmp_path / "examples-1" / "Split-train").iterdir())
    [new] = (p for p in (runs.tmp_path / "examples-2" / "Split-train").iterdir())
    assert old.name == new.name and old.stat().st_ino == new.stat().st_ino


def test_a_new_span_is_encoded_alone_and_the_test_split_stays_frozen(runs):
    first, _ = runs.run()
    before = splits_by_id(first)
    test_lesion = next(e for e in read_examples(first, "test") if feature(e, "lesion_id"))
    rows = new_rows(3, 12)
    rows.append({"image_id": "ISIC_3099999", "diagnosis": "MEL", "lesion_id": feature(test_lesion, "lesion_id").decode()})
    write_span(runs.data_root, "batch-2", rows, first_seed=500)
    second, report = runs.run()
    assert [(s["name"], s["action"]) for s in report["spans"]] == [("base", "reuse"), ("batch-2", "ingest")]
    after = splits_by_id(second)
    assert {k: after[k] for k in before} == before, "every base image keeps its split"
    assert {k for k, v in after.items() if v == "test"} == {k for k, v in before.items() if v == "test"}
    assert after["ISIC_3099999"] == "eval", "a late image of a test lesion stays out of training"
    new_lesions = defaultdict(set)
    for row in rows[:-1]:
        new_lesions[row["lesion_id"]].add(after[row["image_id"]])
    assert all(len(splits) == 1 for splits in new_lesions.values()), "a new lesion's images stay together"
    assert set().union(*new_lesions.values()) <= {"train", "eval"}


def test_an_image_already_in_an_earlier_span_is_a_duplicate_not_ingested_twice(runs):
    runs.run()
    rows = new_rows(4, 4)
    folder = write_span(runs.data_root, "batch-2", rows, first_seed=700)
    copied = rows[3]["image_id"]
    shutil.copy(runs.data_root / IMAGES_DIR / "ISIC_0000003.jpg", folder / IMAGES_DIR / f"{copied}.jpg")
    examples, report = runs.run()
    [duplicate] = [r for r in report["rejects"] if r["reason"] == "duplicate_image"]
    assert duplicate["image_id"] == copied and "span base" in duplicate["message"]
    assert copied not in splits_by_id(examples) and report["totals"]["examples"] == 20 + 3
    assert [s["duplicates"] for s in report["spans"]] == [0, 1]


def test_changed_settings_re_ingest_and_say_why_a_removed_span_drops_out(runs):
    write_span(runs.data_root, "batch-2", new_rows(5, 4), first_seed=900)
    first, _ = runs.run()
    shutil.rmtree(runs.data_root / "spans" / "batch-2")
    second, report = runs.run("data.max_side=24")
    [base] = report["spans"]
    assert base["action"] == "ingest" and "image_path.max_side 32 -> 24" in base["reason"]
    assert report["spans_removed"] == [{"name": "batch-2", "examples": 4}]
    assert splits_by_id(second) == {k: v for k, v in splits_by_id(first).items() if not k.startswith("ISIC_5")}
    summary = (runs.tmp_path / "report-2" / "summary.txt").read_text()
    assert "batch-2: no longer in the data root, its 4 examples drop out" in summary


def test_a_span_with_a_broken_csv_is_left_out_with_its_reason(runs):
    folder = write_span(runs.data_root, "batch-3", new_rows(6, 4), first_seed=1100)
    (folder / "ISIC_2019_Training_GroundTruth.csv").write_text("image,MEL\nISIC_6000000,1.0\n")
    examples, report = runs.run()
    [problem] = report["span_problems"]
    assert "span batch-3" in problem and "missing column(s)" in problem and "left out" in problem
    assert [s["name"] for s in report["spans"]] == ["base"] and report["totals"]["examples"] == 20


def test_a_reviewed_span_holds_out_its_slice_by_group_hash(runs):
    runs.run()
    rows = new_rows(7, 40, lesions=False)
    write_span(runs.data_root, "reviewed", rows, first_seed=1300, marker={"kind": "reviewed"})
    examples, report = runs.run("retrain.reviewed_slice_fraction=0.5")
    assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval", "test", "reviewed"]
    splits = splits_by_id(examples)
    reviewed = {k: v for k, v in splits.items() if k.startswith("ISIC_7")}
    assert 8 <= sum(v == "reviewed" for v in reviewed.values()) <= 32 and "test" not in reviewed.values()
    again, _ = runs.run("retrain.reviewed_slice_fraction=0.5")
    assert splits_by_id(again) == splits
