"""Artefact painters: what a camera, a clinic or a dermoscope adds to a photograph besides the lesion.

    painter = PAINTERS[ArtefactKind.RULER]
    painted = painter(pixels, lesion_mask, seed=7)      # uint8 RGB H x W x 3 -> a new array, same shape

Each painter is a small transform (MONAI style): ``painter(image, lesion_mask=None, *, seed) -> image``,
deterministic under ``seed``, never changing its input. Sizes are relative to the image's shorter
side, so the same seed draws the same artefact at 161 px or at 512 px. Painters whose
``spares_lesion`` is true (rulers, ink, dark corners, colour patches) place themselves away from the
lesion and leave every pixel of ``lesion_mask`` untouched; hair and gel bubbles lie across the lesion
as in real photographs. The artefact types follow Bissoto et al. 2019/2020 and Nauta et al. 2022.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dermflow.config import ARTEFACT_KIND_NAMES


class ArtefactKind(str, enum.Enum):
    RULER = "ruler"
    INK = "ink"
    DARK_CORNERS = "dark_corners"
    GEL_BUBBLES = "gel_bubbles"
    HAIR = "hair"
    PATCH = "patch"

    def __str__(self) -> str:
        return self.value


ARTEFACT_KINDS: tuple[str, ...] = tuple(kind.value for kind in ArtefactKind)
assert ARTEFACT_KINDS == ARTEFACT_KIND_NAMES, "dermflow.config.ARTEFACT_KIND_NAMES must name every ArtefactKind"


# --------------------------------------------------------------------------- drawing helpers


def _canvas(shape: tuple[int, int]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    layer = Image.new("L", (shape[1], shape[0]), 0)
    return layer, ImageDraw.Draw(layer)


def _coverage(layer: Image.Image, blur: float) -> np.ndarray:
    """A Pillow ``L`` layer -> float32 coverage in [0, 1], softened by ``blur`` pixels."""
    if blur > 0:
        layer = layer.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(layer, dtype=np.float32) * np.float32(1 / 255)


def _blend(image: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``image`` (float [H, W, 3]) towards ``colour`` ([3] or [H, W, 3]) by ``alpha`` [H, W]."""
    return image + (colour - image) * alpha[..., None]


def _finish(image: np.ndarray, result: np.ndarray, lesion_mask: np.ndarray | None, spares_lesion: bool) -> np.ndarray:
    out = np.clip(np.rint(result), 0, 255).astype(np.uint8)
    if spares_lesion and lesion_mask is not None:
        out[lesion_mask] = image[lesion_mask]  # the guarantee, whatever the placement did
    return out


def _free_of_lesion(coverage: np.ndarray, lesion_mask: np.ndarray | None) -> float:
    """Share of the artefact's coverage ([H, W], or layers [K, H, W]) that falls on the lesion (0: it spares it)."""
    if lesion_mask is None or not lesion_mask.any():
        return 0.0
    if coverage.ndim == 3:
        coverage = coverage.max(axis=0)
    total = float(coverage.sum())
    return float(coverage[lesion_mask].sum()) / total if total > 0 else 0.0


def _place(draw_at: Callable[[np.random.Generator], np.ndarray], rng: np.random.Generator,
           lesion_mask: np.ndarray | None, tries: int = 8) -> np.ndarray:
    """Draws at random places until one barely touches the lesion (else the one touching it least)."""
    best, best_overlap = None, math.inf
    for _ in range(tries):
        coverage = draw_at(rng)
        overlap = _free_of_lesion(coverage, lesion_mask)
        if overlap < best_overlap:
            best, best_overlap = coverage, overlap
        if overlap <= 0.01:
            break
    return best


def _side(image: np.ndarray) -> int:
    return int(min(image.shape[:2]))


def _check(image: np.ndarray, lesion_mask: np.ndarray | None) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"artefact painters take uint8 RGB [H, W, 3] images, not {image.dtype} {image.shape}")
    if lesion_mask is not None and lesion_mask.shape != image.shape[:2]:
        raise ValueError(f"lesion mask {lesion_mask.shape} does not match the image {image.shape[:2]}")


# --------------------------------------------------------------------------- the painters


@dataclass(frozen=True)
class Ruler:
    """A millimetre ruler near an edge: a dark line with ticks, a light band or a dark band; any length and angle."""

    kind: ArtefactKind = ArtefactKind.RULER
    spares_lesion: bool = True
    styles: tuple[str, ...] = ("line", "light_band", "dark_band")

    def __call__(self, image: np.ndarray, lesion_mask: np.ndarray | None = None, *, seed: int) -> np.ndarray:
        _check(image, lesion_mask)
        rng = np.random.default_rng(seed)
        style = self.styles[int(rng.integers(len(self.styles)))]
        h, w = image.shape[:2]
        side = _side(image)
        spacing = side * rng.uniform(0.018, 0.035)  # one millimetre
        band = side * rng.uniform(0.06, 0.11) if style != "line" else 0.0
        tick_colour, band_colour = _ruler_colours(style, rng)

        def draw_at(r: np.random.Generator) -> np.ndarray:
            start, direction, length, normal = _ruler_geometry(r, h, w, side)
            band_layer, band_draw = _canvas((h, w))
            tick_layer, tick_draw = _canvas((h, w))
            if band:
                corners = [start, start + direction * length, start + direction * length + normal * band, start + normal * band]
                band_draw.polygon([tuple(p) for p in corners], fill=int(255 * r.uniform(0.75, 0.95)))
            width = max(1, round(side * r.uniform(0.004, 0.008)))
            if style == "line":
                tick_draw.line([tuple(start), tuple(start + direction * length)], fill=255, width=width)
            for index in range(int(length // spacing) + 1):
                tick = side * (0.045 if index % 10 == 0 else 0.03 if index % 5 == 0 else 0.018)
                base = start + direction * (index * spacing) + normal * (band * 0.08)
                tick_draw.line([tuple(base), tuple(base + normal * tick)], fill=255, width=width)
            return np.stack([_coverage(band_layer, 0.6), _coverage(tick_layer, 0.5)])

        band_cover, tick_cover = _place(draw_at, rng, lesion_mask)
        result = _blend(image.astype(np.float32), band_colour, band_cover)
        result = _blend(result, tick_colour, tick_cover)
        return _finish(image, result, lesion_mask, self.spares_lesion)


def _ruler_colours(style: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    dark = np.array([20, 18, 22], np.float32) + rng.uniform(0, 30)
    if style == "dark_band":
        return np.array([235, 235, 230], np.float32), dark
    light = np.array([rng.uniform(225, 250), rng.uniform(220, 248), rng.uniform(170, 240)], np.float32)
    return dark, light


def _ruler_geometry(rng: np.random.Generator, h: int, w: int, side: int):
    """(start [x, y], unit direction, length, unit normal pointing into the image) for a ruler near an edge."""
    edge = int(rng.integers(4))  # bottom, top, left, right
    tilt = rng.normal(0, 0.12) if rng.random() < 0.7 else rng.uniform(-0.6, 0.6)
    inset = side * rng.uniform(0.02, 0.12)
    along = (w if edge < 2 else h)
    length = along * rng.uniform(0.35, 0.95)
    offset = rng.uniform(0, along - length)
    if edge == 0:
        start, angle, normal = np.array([offset, h - inset]), tilt, np.array([0.0, -1.0])
    elif edge == 1:
        start, angle, normal = np.array([offset, inset]), tilt, np.array([0.0, 1.0])
    elif edge == 2:
        start, angle, normal = np.array([inset, offset]), math.pi / 2 + tilt, np.array([1.0, 0.0])
    else:
        start, angle, normal = np.array([w - inset, offset]), math.pi / 2 + tilt, np.array([-1.0, 0.0])
    direction = np.array([math.cos(angle), math.sin(angle)])
    if np.dot(normal, np.array([-direction[1], direction[0]])) < 0:
        perpendicular = np.array([direction[1], -direction[0]])
    else:
        perpendicular = np.array([-direction[1], direction[0]])
    return start, direction, length, perpendicular


@dataclass(frozen=True)
class Ink:
    """Skin-marker ink: a stroke around the lesion (an arc, a line) or a few dots, purple, blue, black or green."""

    kind: ArtefactKind = ArtefactKind.INK
    spares_lesion: bool = True

    def __call__(self, image: np.ndarray, lesion_mask: np.ndarray | None = None, *, seed: int) -> np.ndarray:
        _check(image, lesion_mask)
        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        side = _side(image)
        colour = np.array(_INK_COLOURS[int(rng.integers(len(_INK_COLOURS)))], np.float32)
        style = ("arc", "line", "dots")[int(rng.choice(3, p=(0.5, 0.2, 0.3)))]
        centre, radius = _lesion_circle(lesion_mask, h, w)

        def draw_at(r: np.random.Generator) -> np.ndarray:
            layer, draw = _canvas((h, w))
            width = max(2, round(side * r.uniform(0.012, 0.035)))
            if style == "arc":
                ring = radius + side * r.uniform(0.06, 0.16)
                start = r.uniform(0, 360)
                extent = r.uniform(60, 300)
                box = [centre[0] - ring, centre[1] - ring, centre[0] + ring, centre[1] + ring]
                draw.arc(box, start, start + extent, fill=255, width=width)
            elif style == "line":
                a = r.uniform(0, 2 * math.pi)
                mid = centre + (radius + side * r.uniform(0.08, 0.2)) * np.array([math.cos(a), math.sin(a)])
                half = side * r.uniform(0.1, 0.3) * np.array([-math.sin(a), math.cos(a)])
                draw.line([tuple(mid - half), tuple(mid + half)], fill=255, width=width)
            else:
                for _ in range(int(r.integers(1, 6))):
                    a = r.uniform(0, 2 * math.pi)
                    p = centre + (radius + side * r.uniform(0.05, 0.25)) * np.array([math.cos(a), math.sin(a)])
                    dot = side * r.uniform(0.01, 0.03)
                    draw.ellipse([p[0] - dot, p[1] - dot, p[0] + dot, p[1] + dot], fill=255)
            return _coverage(layer, 0.8)

        coverage = _place(draw_at, rng, lesion_mask) * np.float32(rng.uniform(0.7, 0.95))
        # Ink dyes the skin: a multiply blend, darker where the skin is darker.
        result = image.astype(np.float32)
        result = _blend(result, result * (colour / 255.0), coverage)
        return _finish(image, result, lesion_mask, self.spares_lesion)


_INK_COLOURS = ((120, 40, 150), (95, 30, 120), (40, 60, 160), (30, 30, 40), (40, 120, 70))


def _lesion_circle(lesion_mask: np.ndarray | None, h: int, w: int) -> tuple[np.ndarray, float]:
    """Centre (x, y) and radius of a circle of the lesion's area; the image centre when there is no mask."""
    if lesion_mask is None or not lesion_mask.any():
        return np.array([w / 2, h / 2]), min(h, w) * 0.2
    rows, cols = np.nonzero(lesion_mask)
    return np.array([cols.mean(), rows.mean()]), math.sqrt(len(rows) / math.pi)


@dataclass(frozen=True)
class DarkCorners:
    """The dermoscope's dark rim (vignetting): a dark circle's outside, off-centre, of varying size and softness.

    The circle is widened when needed so that the whole lesion lies inside it, as it does in a photograph
    that shows the lesion at all.
    """

    kind: ArtefactKind = ArtefactKind.DARK_CORNERS
    spares_lesion: bool = True

    def __call__(self, image: np.ndarray, lesion_mask: np.ndarray | None = None, *, seed: int) -> np.ndarray:
        _check(image, lesion_mask)
        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = w / 2 * (1 + rng.uniform(-0.1, 0.1)), h / 2 * (1 + rng.uniform(-0.1, 0.1))
        half_diagonal = math.hypot(w, h) / 2
        rim = half_diagonal * rng.uniform(0.62, 0.9)
        softness = half_diagonal * rng.uniform(0.02, 0.12)
        distance = np.hypot(x - cx, y - cy)
        if lesion_mask is not None and lesion_mask.any():
            rim = max(rim, float(distance[lesion_mask].max()) + 2.0)
        dark = np.clip((distance - rim) / softness, 0.0, 1.0)
        dark = dark * dark * (3 - 2 * dark) * np.float32(rng.uniform(0.85, 1.0))
        floor = np.array([rng.uniform(0, 25)] * 3, np.float32)
        result = _blend(image.astype(np.float32), floor, dark)
        return _finish(image, result, lesion_mask, self.spares_lesion)


@dataclass(frozen=True)
class GelBubbles:
    """Air bubbles in the immersion gel: bright thin rims, a lighter inside and a specular spot; over the lesion too."""

    kind: ArtefactKind = ArtefactKind.GEL_BUBBLES
    spares_lesion: bool = False

    def __call__(self, image: np.ndarray, lesion_mask: np.ndarray | None = None, *, seed: int) -> np.ndarray:
        _check(image, lesion_mask)
        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        side = _side(image)
        rims, insides, spots = _canvas((h, w)), _canvas((h, w)), _canvas((h, w))
        for _ in range(int(rng.integers(2, 9))):
            r = side * rng.uniform(0.02, 0.09)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            box = [cx - r, cy - r, cx + r, cy + r]
            insides[1].ellipse(box, fill=255)
            rims[1].ellipse(box, outline=255, width=max(1, round(r * 0.12)))
            s = r * 0.22
            spots[1].ellipse([cx - 0.4 * r - s, cy - 0.4 * r - s, cx - 0.4 * r + s, cy - 0.4 * r + s], fill=255)
        white = np.array([250, 250, 250], np.float32)
        result = image.astype(np.float32)
        result = _blend(result, white, _coverage(insides[0], 0.6) * np.float32(rng.uniform(0.08, 0.2)))
        result = _blend(result, white, _coverage(rims[0], 0.5) * np.float32(rng.uniform(0.5, 0.8)))
        result = _blend(result, white, _coverage(spots[0], 0.7) * np.float32(0.9))
        return _finish(image, result, lesion_mask, self.spares_lesion)


@dataclass(frozen=True)
class Hair:
    """Dark curved hairs (quadratic Bezier curves) across the image, the lesion included."""

    kind: ArtefactKind = ArtefactKind.HAIR
    spares_lesion: bool = False

    def __call__(self, image: np.ndarray, lesion_mask: np.ndarray | None = None, *, seed: int) -> np.ndarray:
        _check(image, lesion_mask)
        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        side = _side(image)
        layer, draw = _canvas((h, w))
        t = np.linspace(0, 1, 16)[:, None]
        for _ in range(int(rng.integers(3, 25))):
            start = rng.uniform(-0.1, 1.1, 2) * (w, h)
            heading = rng.uniform(0, 2 * math.pi)
            end = start + side * rng.uniform(0.3, 1.0) * np.array([math.cos(heading), math.sin(heading)])
            bulge = (start + end) / 2 + rng.normal(0, side * 0.15, 2)
            curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * bulge + t ** 2 * end
            width = max(1, round(side * rng.uniform(0.002, 0.006)))
            draw.line([tuple(p) for p in curve], fill=int(rng.integers(180, 256)), width=width, joint="curve")
        colour = np.array([25, 18, 14], np.float32) * np.float32(rng.uniform(0.6, 1.6))
        result = _blend(image.astype(np.float32), colour, _coverage(layer, 0.4))
        return _finish(image, result, lesion_mask, self.spares_lesion)


@dataclass(frozen=True)
class ColourPatch:
    """A round colour-calibration sticker (Nauta et al. 2022): opaque, saturated, sometimes outlined, off the lesion."""

    kind: ArtefactKind = ArtefactKind.PATCH
    spares_lesion: bool = True

    def __call__(self, image: np.ndarray, lesion_mask: np.ndarray | None = None, *, seed: int) -> np.ndarray:
        _check(image, lesion_mask)
        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        side = _side(image)
        colour = np.array(_PATCH_COLOURS[int(rng.integers(len(_PATCH_COLOURS)))], np.float32) + rng.normal(0, 8, 3)
        outlined = rng.random() < 0.4
        count = 1 if rng.random() < 0.7 else 2
        radius = side * rng.uniform(0.05, 0.12)

        def draw_at(r: np.random.Generator) -> np.ndarray:
            layer, draw = _canvas((h, w))
            for _ in range(count):
                cx, cy = _near_an_edge(r, h, w, radius)
                draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
            return _coverage(layer, 0.7)

        coverage = _place(draw_at, rng, lesion_mask)
        result = _blend(image.astype(np.float32), np.clip(colour, 0, 255), coverage * np.float32(0.97))
        if outlined:
            ring = np.clip(coverage - _erode(coverage, max(1, round(radius * 0.12))), 0, 1)
            result = _blend(result, np.array([235, 235, 235], np.float32), ring)
        return _finish(image, result, lesion_mask, self.spares_lesion)


_PATCH_COLOURS = ((60, 110, 200), (230, 200, 40), (60, 170, 80), (220, 90, 140), (235, 130, 40), (150, 80, 190))


def _near_an_edge(rng: np.random.Generator, h: int, w: int, radius: float) -> tuple[float, float]:
    margin = radius * rng.uniform(1.1, 2.0)
    edge = int(rng.integers(4))
    if edge < 2:
        return rng.uniform(margin, w - margin), (h - margin if edge == 0 else margin)
    return (margin if edge == 2 else w - margin), rng.uniform(margin, h - margin)


def _erode(coverage: np.ndarray, pixels: int) -> np.ndarray:
    layer = Image.fromarray(np.rint(coverage * 255).astype(np.uint8)).filter(ImageFilter.MinFilter(2 * pixels + 1))
    return np.asarray(layer, dtype=np.float32) / 255.0


ArtefactPainter = Callable[..., np.ndarray]

PAINTERS: dict[ArtefactKind, ArtefactPainter] = {
    ArtefactKind.RULER: Ruler(),
    ArtefactKind.INK: Ink(),
    ArtefactKind.DARK_CORNERS: DarkCorners(),
    ArtefactKind.GEL_BUBBLES: GelBubbles(),
    ArtefactKind.HAIR: Hair(),
    ArtefactKind.PATCH: ColourPatch(),
}


def painter_for(kind: str | ArtefactKind) -> ArtefactPainter:
    """The painter of ``kind`` (``"ruler"``, ``ArtefactKind.INK``, ...); ValueError naming the known kinds."""
    try:
        return PAINTERS[ArtefactKind(kind)]
    except ValueError:
        raise ValueError(f"unknown artefact kind {kind!r}; known: {', '.join(ARTEFACT_KINDS)}") from None
