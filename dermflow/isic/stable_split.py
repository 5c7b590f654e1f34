"""Splits that stay put as spans arrive: an image keeps the split it was first given.

    memory = SplitMemory.from_images(recorded)            # (span, image_id, lesion_id, split) of earlier ingests
    splits = assign_span_splits(span, kind, items, memory, SplitSettings(0.15, 0.2, 0, 0.2))

- The **base** span, the first time it is ingested, is split exactly as before spans existed
  (:func:`dermflow.isic.lesion_split.assign_splits`: grouped by lesion, stratified, train/eval/test).
- Every later image keeps its recorded split. A new image whose lesion group is already placed goes
  where its group is, except into ``test``: **the test split is frozen** at the base's first ingest,
  so a late image of a test lesion goes to ``eval`` (kept out of training, where it would leak).
- A new group goes to ``train`` or ``eval`` by a hash of its key (eval with probability
  eval_fraction / (1 - test_fraction), the base's train:eval ratio); a group of a **reviewed** span
  first goes to the ``reviewed`` slice with probability ``reviewed_slice_fraction`` (its own hash).
  Hashes depend on the key and the seed only: the choice is the same in every run, and recorded.

Groups are as in ``lesion_split``: by lesion id where there is one, else the image alone.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from dermflow.isic.lesion_split import EVAL, TEST, TRAIN, SplitItem, assign_splits, group_key, unit_hash
from dermflow.isic.span_layout import BASE_SPAN, REVIEWED

REVIEWED_SLICE = "reviewed"


@dataclass(frozen=True)
class SplitSettings:
    eval_fraction: float
    test_fraction: float
    seed: int
    reviewed_slice_fraction: float

    @property
    def eval_share(self) -> float:
        """A new group's chance of eval: the base's eval : train ratio."""
        return self.eval_fraction / (1.0 - self.test_fraction)


@dataclass
class SplitMemory:
    """The splits recorded by earlier ingests (and by the spans placed so far in this one)."""

    images: dict[tuple[str, str], str] = field(default_factory=dict)  # (span, image_id) -> split
    groups: dict[str, str] = field(default_factory=dict)  # lesion group key -> its first split
    spans: set[str] = field(default_factory=set)  # spans with recorded splits

    @classmethod
    def from_images(cls, recorded: Iterable[tuple[str, str, str, str]]) -> "SplitMemory":
        """``recorded``: (span, image_id, lesion_id, split) in ingest order."""
        memory = cls()
        for span, image_id, lesion_id, split in recorded:
            memory.remember(span, SplitItem(image_id, lesion_id, ""), split)
        return memory

    def remember(self, span: str, item: SplitItem, split: str) -> None:
        self.images[(span, item.image_id)] = split
        self.spans.add(span)
        if item.lesion_id:
            self.groups.setdefault(group_key(item), split)


def new_group_split(key: str, kind: str, settings: SplitSettings) -> str:
    if kind == REVIEWED and unit_hash(settings.seed, f"reviewed-slice:{key}") < settings.reviewed_slice_fraction:
        return REVIEWED_SLICE
    return EVAL if unit_hash(settings.seed, f"eval:{key}") < settings.eval_share else TRAIN


def assign_span_splits(span: str, kind: str, items: list[SplitItem], memory: SplitMemory,
                       settings: SplitSettings) -> dict[str, str]:
    """image_id -> split for every item of one span; records them in ``memory``."""
    if span == BASE_SPAN and span not in memory.spans:
        assignment = assign_splits(items, settings.eval_fraction, settings.test_fraction, settings.seed)
    else:
        assignment = {}
        groups: dict[str, list[SplitItem]] = defaultdict(list)
        for item in items:
            groups[group_key(item)].append(item)
        for key in sorted(groups):
            known = memory.groups.get(key)
            group_split = EVAL if known == TEST else known or new_group_split(key, kind, settings)
            for item in groups[key]:
                assignment[item.image_id] = memory.images.get((span, item.image_id), group_split)
    for item in items:
        memory.remember(span, item, assignment[item.image_id])
    return assignment


def split_order(splits: Iterable[str]) -> list[str]:
    """The split names an ingest declares, in TFX order: train, eval[, test][, reviewed]."""
    present = set(splits)
    return [name for name in (TRAIN, EVAL, TEST, REVIEWED_SLICE) if name in present]
