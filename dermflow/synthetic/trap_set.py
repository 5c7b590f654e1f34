"""A trap set (Bissoto et al. 2020): an artefact that goes with melanoma in training and with the others in the test split.

    trap = TrapSet(kind="ruler", share=0.9)                   # the split settings: DataConfig's defaults
    marked = trap.marked_rows(archive_rows(300, seed=0), seed=0)   # row indices that get the artefact

The archive knows the split the way ingest will make it: the same lesion ids, the same hash-based,
lesion-grouped assignment (:func:`dermflow.isic.lesion_split.assign_splits`) with the same
``eval_fraction``, ``test_fraction`` and ``split_seed``, so train with those settings (the defaults).
Of the train split's ``target`` images (melanomas) a share ``share`` gets the artefact; of the test
split's other images the same share; the eval split, which chooses the epoch and on which the
ArtefactCheck pastes its own artefacts, is left as drawn. A model that learns the shortcut calls the
test split's marked nevi melanomas; the ArtefactCheck sees it on eval.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dermflow.artefacts import ARTEFACT_KINDS, painter_for
from dermflow.config import DataConfig
from dermflow.isic.lesion_split import EVAL, TEST, TRAIN, SplitItem, assign_splits
from dermflow.synthetic.lesion_plan import ArchiveRow, _rng

_TRAP = 6  # the trap's random stream (0-4: lesion_plan's, 5: archive_writer's full sizes)


@dataclass(frozen=True)
class TrapSet:
    kind: str = "ruler"
    share: float = 0.9
    target: str = "MEL"
    split: DataConfig = field(default_factory=DataConfig)
    lookalike: float = 0.0  # share of the train split's targets drawn with the look of ``lookalike_of``
    lookalike_of: str = "NV"

    def __post_init__(self) -> None:
        if self.kind not in ARTEFACT_KINDS:
            raise ValueError(f"trap: unknown artefact {self.kind!r}; known: {', '.join(ARTEFACT_KINDS)}")
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"trap share must be within [0, 1], got {self.share}")
        if not 0.0 <= self.lookalike <= 1.0:
            raise ValueError(f"trap lookalike share must be within [0, 1], got {self.lookalike}")

    def splits(self, rows: list[ArchiveRow]) -> dict[str, str]:
        """image id -> train / eval / test, as IsicExampleGen will assign them."""
        return assign_splits((SplitItem(r.image, r.lesion_id, r.diagnosis) for r in rows),
                             self.split.eval_fraction, self.split.test_fraction, self.split.split_seed)

    def marked_rows(self, rows: list[ArchiveRow], seed: int) -> dict[int, str]:
        """Row index -> its split, for the rows that get the artefact."""
        splits = self.splits(rows)
        marked = {}
        for row in rows:
            split = splits[row.image]
            wanted = (split == TRAIN and row.diagnosis == self.target) or (split == TEST and row.diagnosis != self.target)
            if wanted and _rng(seed, _TRAP, row.index).random() < self.share:
                marked[row.index] = split
        return marked

    def looks(self, rows: list[ArchiveRow], seed: int) -> dict[int, str]:
        """Row index -> the diagnosis whose look its lesion is drawn with, for the rows not drawn as their own:
        a share ``lookalike`` of the train split's targets, marked or not (hard cases)."""
        splits = self.splits(rows)
        return {row.index: self.lookalike_of for row in rows
                if splits[row.image] == TRAIN and row.diagnosis == self.target
                and _rng(seed, _TRAP + 1, row.index).random() < self.lookalike}

    def paint(self, pixels: np.ndarray, lesion: np.ndarray, seed: int, index: int) -> np.ndarray:
        return painter_for(self.kind)(pixels, lesion, seed=int(_rng(seed, _TRAP, index).integers(2**31)))

    def describe(self, rows: list[ArchiveRow], marked: dict[int, str], looks: dict[int, str] | None = None) -> dict:
        splits = self.splits(rows)
        counts = {}
        for name, wanted in ((TRAIN, lambda r: r.diagnosis == self.target), (TEST, lambda r: r.diagnosis != self.target),
                             (EVAL, lambda r: True)):
            group = [r for r in rows if splits[r.image] == name and wanted(r)]
            counts[name] = {"marked": sum(r.index in marked for r in group), "of": len(group)}
        return {"kind": self.kind, "share": self.share, "target": self.target, "counts": counts,
                "lookalikes": len(looks or {}), "lookalike_of": self.lookalike_of,
                "eval_fraction": self.split.eval_fraction, "test_fraction": self.split.test_fraction,
                "split_seed": self.split.split_seed}
