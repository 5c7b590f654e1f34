import random
from collections import Counter, defaultdict

from dermflow.isic.lesion_split import EVAL, TEST, TRAIN, SplitItem, assign_splits, split_names


def make_items(n_per_class=200, classes=("MEL", "NV", "BCC"), lesion_share=0.5, seed=1):
    rng = random.Random(seed)
    items = []
    for code in classes:
        i = 0
        while i < n_per_class:
            if rng.random() < lesion_share:
                size = rng.randint(1, 4)
                lesion = f"HAM_{code}_{i}"
                items += [SplitItem(f"ISIC_{code}_{i + k}", lesion, code) for k in range(min(size, n_per_class - i))]
                i += size
            else:
                items.append(SplitItem(f"ISIC_{code}_{i}", "", code))
                i += 1
    return items


def test_every_item_gets_a_split_and_lesions_never_straddle():
    items = make_items()
    splits = assign_splits(items, eval_fraction=0.2, test_fraction=0.1, seed=3)
    assert set(splits) == {item.image_id for item in items}
    by_lesion = defaultdict(set)
    for item in items:
        if item.lesion_id:
            by_lesion[item.lesion_id].add(splits[item.image_id])
    assert by_lesion and all(len(s) == 1 for s in by_lesion.values())


def test_stratified_fractions_are_close_per_class():
    items = make_items()
    splits = assign_splits(items, eval_fraction=0.2, test_fraction=0.1)
    for code in ("MEL", "NV", "BCC"):
        counts = Counter(splits[i.image_id] for i in items if i.diagnosis == code)
        total = sum(counts.values())
        assert abs(counts[EVAL] / total - 0.2) < 0.03
        assert abs(counts[TEST] / total - 0.1) < 0.03
        assert counts[TRAIN] > 0


def test_deterministic_and_independent_of_order():
    items = make_items()
    shuffled = items[:]
    random.Random(7).shuffle(shuffled)
    assert assign_splits(items, 0.2, seed=5) == assign_splits(shuffled, 0.2, seed=5)


def test_seed_changes_the_assignment():
    items = make_items()
    assert assign_splits(items, 0.2, seed=0) != assign_splits(items, 0.2, seed=1)


def test_no_test_split_without_test_fraction():
    splits = assign_splits(make_items(50), eval_fraction=0.3)
    assert set(splits.values()) == {TRAIN, EVAL}
    assert split_names(0.0) == [TRAIN, EVAL] and split_names(0.1) == [TRAIN, EVAL, TEST]
