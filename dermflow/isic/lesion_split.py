"""Train/eval/test assignment: grouped by lesion, stratified by class, hash-based, deterministic.

Every image of a lesion lands in the same split (an image without a lesion id is its own
group). Within each class, groups are ordered by a hash of (seed, group key) and laid along a
line of images: the first ``test_fraction`` of the class's images go to test, the next
``eval_fraction`` to eval, the rest to train (a group goes where its midpoint falls). The result
depends only on the records and the seed, never on their order.

    splits = assign_splits(items, eval_fraction=0.2, test_fraction=0.0, seed=0)  # image_id -> "train" | "eval" | "test"
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable

TRAIN, EVAL, TEST = "train", "eval", "test"


@dataclass(frozen=True)
class SplitItem:
    image_id: str
    lesion_id: str
    diagnosis: str


def split_names(test_fraction: float) -> list[str]:
    return [TRAIN, EVAL, TEST] if test_fraction > 0 else [TRAIN, EVAL]


def group_key(item: SplitItem) -> str:
    return f"lesion:{item.lesion_id}" if item.lesion_id else f"image:{item.image_id}"


def unit_hash(seed: int, key: str) -> float:
    """A uniform number in [0, 1) from (seed, key), the same on every machine and Python run."""
    digest = hashlib.sha256(f"{seed}:{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def group_class(diagnoses: list[str]) -> str:
    """The most common diagnosis of a group; ties go to the alphabetically first code."""
    counts = Counter(diagnoses)
    return min(counts, key=lambda code: (-counts[code], code))


def assign_splits(items: Iterable[SplitItem], eval_fraction: float, test_fraction: float = 0.0, seed: int = 0) -> dict[str, str]:
    """image_id -> split name, for every item."""
    groups: dict[str, list[SplitItem]] = defaultdict(list)
    for item in items:
        groups[group_key(item)].append(item)
    by_class: dict[str, list[str]] = defaultdict(list)
    for key, members in groups.items():
        by_class[group_class([m.diagnosis for m in members])].append(key)
    assignment: dict[str, str] = {}
    for keys in by_class.values():
        keys.sort(key=lambda k: (unit_hash(seed, k), k))
        total = sum(len(groups[k]) for k in keys)
        test_end = test_fraction * total
        eval_end = test_end + eval_fraction * total
        position = 0
        for key in keys:
            size = len(groups[key])
            midpoint = position + size / 2
            split = TEST if midpoint < test_end else EVAL if midpoint < eval_end else TRAIN
            for member in groups[key]:
                assignment[member.image_id] = split
            position += size
    return assignment
