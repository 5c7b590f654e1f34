"""Stable splits: the base split as before, recorded splits kept, the test split frozen, new groups by hash."""
from collections import Counter

from dermflow.isic.lesion_split import SplitItem, assign_splits
from dermflow.isic.stable_split import SplitMemory, SplitSettings, assign_span_splits, split_order

SETTINGS = SplitSettings(eval_fraction=0.15, test_fraction=0.2, seed=0, reviewed_slice_fraction=0.25)


def items(prefix: str, n: int, per_lesion: int = 2) -> list[SplitItem]:
    return [SplitItem(f"{prefix}{i}", f"{prefix}L{i // per_lesion}", "MEL" if i % 3 else "NV") for i in range(n)]


def test_the_base_span_is_split_as_before_spans_existed():
    base = items("B", 200)
    assert assign_span_splits("base", "archive", base, SplitMemory(), SETTINGS) == assign_splits(base, 0.15, 0.2, 0)


def test_recorded_images_keep_their_split_and_the_test_split_never_grows():
    memory = SplitMemory()
    first = assign_span_splits("base", "archive", items("B", 200), memory, SETTINGS)
    recorded = SplitMemory.from_images(("base", i.image_id, i.lesion_id, first[i.image_id]) for i in items("B", 200))
    again = assign_span_splits("base", "archive", items("B", 200) + items("X", 40), recorded, SETTINGS)
    assert {k: again[k] for k in first} == first
    assert {k for k, v in again.items() if v == "test"} == {k for k, v in first.items() if v == "test"}
    late = SplitItem("late", next(i.lesion_id for i in items("B", 200) if first[i.image_id] == "test"), "MEL")
    assert assign_span_splits("batch", "archive", [late], recorded, SETTINGS) == {"late": "eval"}


def test_new_groups_go_to_train_or_eval_by_hash_with_the_base_ratio_and_stay_together():
    memory = SplitMemory()
    splits = assign_span_splits("batch", "archive", items("N", 4000), memory, SETTINGS)
    counts = Counter(splits.values())
    assert set(counts) == {"train", "eval"}
    assert abs(counts["eval"] / 4000 - 0.15 / 0.8) < 0.04
    by_lesion = {}
    for item in items("N", 4000):
        by_lesion.setdefault(item.lesion_id, set()).add(splits[item.image_id])
    assert all(len(s) == 1 for s in by_lesion.values())
    assert assign_span_splits("batch", "archive", items("N", 4000), SplitMemory(), SETTINGS) == splits


def test_a_reviewed_span_holds_out_a_share_of_its_groups_as_the_reviewed_slice():
    splits = assign_span_splits("reviewed", "reviewed", items("R", 4000), SplitMemory(), SETTINGS)
    share = Counter(splits.values())["reviewed"] / 4000
    assert abs(share - 0.25) < 0.04
    assert split_order(splits.values()) == ["train", "eval", "reviewed"]
    none = SplitSettings(0.15, 0.2, 0, 0.0)
    assert "reviewed" not in assign_span_splits("reviewed", "reviewed", items("R", 400), SplitMemory(), none).values()
