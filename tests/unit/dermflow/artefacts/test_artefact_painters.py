"""Each artefact painter: deterministic under its seed, sparing the lesion where it should, visible, any size."""
from __future__ import annotations

import numpy as np
import pytest

from dermflow.artefacts import ARTEFACT_KINDS, PAINTERS, ArtefactKind, RandomArtefacts, painter_for
from dermflow.config import ARTEFACT_KIND_NAMES, DermflowConfig
from dermflow.synthetic.photo_renderer import render_image

SPARING = {ArtefactKind.RULER, ArtefactKind.INK, ArtefactKind.DARK_CORNERS, ArtefactKind.PATCH}


@pytest.fixture(scope="module", params=[(96, 1), (160, 2), (257, 5)], ids=["96px", "160px", "257px"])
def photo(request):
    size, index = request.param
    pixels, mask = render_image("NV", image_size=size, seed=4, index=index)
    return pixels, mask


@pytest.mark.parametrize("kind", list(ArtefactKind), ids=str)
def test_the_same_seed_draws_the_same_artefact_and_another_seed_another(kind, photo):
    pixels, mask = photo
    painter = painter_for(kind)
    first = painter(pixels, mask, seed=11)
    assert np.array_equal(first, painter(pixels.copy(), mask.copy(), seed=11))
    others = [painter(pixels, mask, seed=seed) for seed in (12, 13, 14)]
    assert any(not np.array_equal(first, other) for other in others)


@pytest.mark.parametrize("kind", list(ArtefactKind), ids=str)
def test_a_painter_changes_the_picture_and_never_its_input(kind, photo):
    pixels, mask = photo
    before = pixels.copy()
    painted = painter_for(kind)(pixels, mask, seed=3)
    assert np.array_equal(pixels, before)
    assert painted.shape == pixels.shape and painted.dtype == np.uint8
    changed = np.abs(painted.astype(int) - pixels.astype(int)).max(axis=2) > 8
    assert changed.mean() > 0.002, f"{kind} left the picture (almost) as it was"


@pytest.mark.parametrize("kind", sorted(SPARING, key=str), ids=str)
@pytest.mark.parametrize("seed", range(6))
def test_painters_that_spare_the_lesion_leave_every_lesion_pixel_untouched(kind, seed, photo):
    pixels, mask = photo
    painted = painter_for(kind)(pixels, mask, seed=seed)
    assert np.array_equal(painted[mask], pixels[mask])
    assert PAINTERS[kind].spares_lesion


@pytest.mark.parametrize("kind", [ArtefactKind.HAIR, ArtefactKind.GEL_BUBBLES], ids=str)
def test_hair_and_gel_bubbles_lie_across_the_lesion_as_in_real_photographs(kind):
    pixels, mask = render_image("MEL", image_size=128, seed=0, index=0)
    touched = [not np.array_equal(painter_for(kind)(pixels, mask, seed=s)[mask], pixels[mask]) for s in range(8)]
    assert any(touched)
    assert not PAINTERS[kind].spares_lesion


def test_rulers_keep_away_from_a_lesion_in_most_placements():
    pixels, mask = render_image("NV", image_size=128, seed=0, index=3)
    painter = painter_for("ruler")
    near = 0
    for seed in range(20):
        painted = painter(pixels, mask, seed=seed)
        changed = np.abs(painted.astype(int) - pixels.astype(int)).max(axis=2) > 8
        rows, cols = np.nonzero(mask)
        grown = np.zeros_like(mask)
        grown[max(0, rows.min() - 3):rows.max() + 4, max(0, cols.min() - 3):cols.max() + 4] = True
        near += bool((changed & grown).any())
    assert near <= 6, f"{near} of 20 rulers came within 3 px of the lesion's box"


def test_the_kinds_are_the_configs_and_unknown_ones_are_refused():
    assert ARTEFACT_KINDS == ARTEFACT_KIND_NAMES
    assert DermflowConfig().eval.artefact_kinds == list(ARTEFACT_KIND_NAMES)
    with pytest.raises(ValueError, match="unknown artefact kind 'sticker'.*ruler"):
        painter_for("sticker")


def test_painters_refuse_what_is_not_an_rgb_uint8_image_or_a_mask_of_another_size():
    pixels, mask = render_image("NV", image_size=64, seed=0, index=0)
    with pytest.raises(ValueError, match="uint8 RGB"):
        painter_for("ink")(pixels.astype(np.float32), mask, seed=0)
    with pytest.raises(ValueError, match="does not match"):
        painter_for("ink")(pixels, mask[:10], seed=0)


def test_random_artefacts_follow_their_probability_and_seed():
    pixels, mask = render_image("BCC", image_size=96, seed=0, index=2)
    never = RandomArtefacts(probability=0.0)
    always = RandomArtefacts(kinds=("ruler", "patch"), probability=1.0)
    assert all(never(pixels, mask, seed=s) is pixels for s in range(5))
    painted = [always(pixels, mask, seed=s) for s in range(5)]
    assert all(not np.array_equal(p, pixels) for p in painted)
    assert np.array_equal(always(pixels, mask, seed=2), painted[2])
    half = RandomArtefacts(kinds=("ruler",), probability=0.5)
    changed = sum(not np.array_equal(half(pixels, mask, seed=s), pixels) for s in range(60))
    assert 18 <= changed <= 42
    every_kind = RandomArtefacts(probability=0.2)  # six kinds: clean with probability 0.8 ** 6 = 0.26
    clean = sum(every_kind(pixels, mask, seed=s) is pixels for s in range(100))
    assert 12 <= clean <= 42
    with pytest.raises(ValueError, match="unknown artefact kind"):
        RandomArtefacts(kinds=("ruler", "smudge"))


def test_random_artefacts_find_the_lesion_themselves_when_not_given_a_mask():
    pixels, mask = render_image("MEL", image_size=128, seed=1, index=0)
    spared = RandomArtefacts(kinds=("patch",), probability=1.0)
    inside = [np.abs(spared(pixels, seed=s)[mask].astype(int) - pixels[mask].astype(int)).max(axis=1) > 8 for s in range(6)]
    assert np.mean([changed.mean() for changed in inside]) < 0.02
