"""Random artefacts for training: paste the same kinds of artefacts onto images of every class, at random.

    augment = RandomArtefacts(kinds=("ruler", "ink", "patch"), probability=0.2)
    painted = augment(pixels, seed=1234)          # uint8 RGB -> uint8 RGB; the lesion mask found by Otsu

Each kind is pasted with probability ``probability``, independently of the others and of the class,
so every class carries each artefact on at least that share of its images (with 6 kinds at 0.2:
26% of images stay clean, 1.2 artefacts on average). When no ``lesion_mask`` is given, painters that
spare the lesion avoid the mask :func:`dermflow.imaging.lesion_mask.lesion_mask` finds (computed
only when one of them paints). Deterministic under ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dermflow.artefacts.artefact_painters import ARTEFACT_KINDS, painter_for
from dermflow.imaging.lesion_mask import lesion_mask as find_lesion_mask


@dataclass(frozen=True)
class RandomArtefacts:
    kinds: tuple[str, ...] = ARTEFACT_KINDS
    probability: float = 0.2

    def __post_init__(self) -> None:
        for kind in self.kinds:
            painter_for(kind)  # ValueError for an unknown kind
        if not self.kinds and self.probability > 0:
            raise ValueError("RandomArtefacts: no kinds to paste")

    def __call__(self, image: np.ndarray, lesion_mask: np.ndarray | None = None, *, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        draws = rng.random(len(self.kinds))
        seeds = rng.integers(2**31, size=len(self.kinds))
        chosen = [index for index in rng.permutation(len(self.kinds)) if draws[index] < self.probability]
        if not chosen:
            return image
        painters = [painter_for(self.kinds[index]) for index in chosen]
        mask = lesion_mask
        if mask is None and any(painter.spares_lesion for painter in painters):
            mask = find_lesion_mask(image)
        for index, painter in zip(chosen, painters):
            image = painter(image, mask, seed=int(seeds[index]))
        return image

    def batch(self, images: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """uint8 [N, H, W, 3] with one seed per image -> a new uint8 batch."""
        return np.stack([self(image, seed=int(seed)) for image, seed in zip(images, seeds)]) if len(images) else images.copy()
