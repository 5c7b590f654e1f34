"""The trap set: an artefact on train melanomas and test non-melanomas, in the splits ingest will make."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dermflow.config import DataConfig
from dermflow.synthetic.archive_writer import TrapSet, archive_rows, write_archive


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    root = tmp_path_factory.mktemp("trap")
    plain = write_archive(root / "plain", n=200, seed=1, image_size=48)
    trapped = write_archive(root / "trapped", n=200, seed=1, image_size=48, trap=TrapSet("ruler", share=0.9))
    return root, plain, trapped


def test_the_artefact_goes_on_train_melanomas_and_test_others_only():
    rows = archive_rows(400, seed=2)
    trap = TrapSet("ruler", share=0.9)
    splits = trap.splits(rows)
    marked = trap.marked_rows(rows, seed=2)
    by_index = {row.index: row for row in rows}
    assert all((split == "train" and by_index[i].diagnosis == "MEL") or (split == "test" and by_index[i].diagnosis != "MEL")
               for i, split in marked.items())
    train_mel = [r for r in rows if splits[r.image] == "train" and r.diagnosis == "MEL"]
    share = sum(r.index in marked for r in train_mel) / len(train_mel)
    assert 0.75 <= share <= 1.0
    assert not any(splits[by_index[i].image] == "eval" for i in marked)
    assert TrapSet("ruler", share=0.0).marked_rows(rows, seed=2) == {}


def test_the_splits_are_the_ones_ingest_assigns(archives):
    from dermflow.components.isic_example_gen.span_ingest import plan_ingest_spans
    from dermflow.config import DermflowConfig

    root, _, trapped = archives
    plan = plan_ingest_spans(DermflowConfig(data=DataConfig(data_root=root / "trapped")), None)
    ingested = {item.record.image_id: item.split for item in plan.items}
    assert ingested == TrapSet("ruler").splits(archive_rows(200, seed=1))


def test_only_the_marked_images_differ_from_the_same_archive_without_the_trap(archives):
    root, plain, trapped = archives
    rows = archive_rows(200, seed=1)
    marked = TrapSet("ruler", share=0.9).marked_rows(rows, seed=1)
    assert trapped["trap"]["counts"]["train"]["marked"] == sum(split == "train" for split in marked.values())
    assert trapped["trap"]["counts"]["eval"]["marked"] == 0
    for row in rows:
        same = (root / "plain" / "ISIC_2019_Training_Input" / f"{row.image}.jpg").read_bytes() == \
            (root / "trapped" / "ISIC_2019_Training_Input" / f"{row.image}.jpg").read_bytes()
        assert same == (row.index not in marked), row.image
        masks = [np.asarray(Image.open(root / name / "ISIC_2019_Training_LesionMasks" / f"{row.image}.png"))
                 for name in ("plain", "trapped")]
        assert np.array_equal(*masks)
    assert "trap     ruler on" in str(trapped) and "eval untouched" in str(trapped)


def test_unknown_artefacts_and_a_trap_with_linked_images_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown artefact 'coffee'"):
        TrapSet("coffee")
    with pytest.raises(ValueError, match="leave out unique"):
        write_archive(tmp_path / "linked", n=80, seed=0, image_size=32, unique=40, trap=TrapSet())
