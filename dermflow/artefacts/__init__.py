"""Artefacts a photograph of a lesion carries besides the lesion: rulers, ink, dark corners, gel bubbles, hair, patches.

    artefact_painters  one small transform per kind (``PAINTERS``, ``painter_for``), deterministic under a seed,
                       sparing the lesion mask where the real artefact does
    random_artefacts   ``RandomArtefacts``: the training augmentation (a random kind, at random, on every class)

    painted = painter_for("ruler")(pixels, lesion_mask, seed=3)

The evaluation's artefact check (``dermflow.evaluation.artefact_check``) pastes them onto held-out
images; the synthetic archive's trap set (``dermflow synth --trap ruler``) onto chosen training images.
"""
from dermflow.artefacts.artefact_painters import ARTEFACT_KINDS, PAINTERS, ArtefactKind, painter_for
from dermflow.artefacts.random_artefacts import RandomArtefacts

__all__ = ["ARTEFACT_KINDS", "PAINTERS", "ArtefactKind", "RandomArtefacts", "painter_for"]
