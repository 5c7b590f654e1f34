"""The lesion itself: its frame over the image, its border, and the dermoscopic signs of each diagnosis.

    frame = _Frame.build(size, cx, cy, angle=a, radius=r)
    lesion = _PAINTERS["MEL"](frame, _radial_distance(frame, _border(rng, _SHAPES["MEL"])), rng)   # 3 x size x size

Package-private: ``photo_renderer.render_image`` is the public entry point. Drawing is done with
Pillow (in C) and numpy on float32 planes in [0, 1].
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# --------------------------------------------------------------------------- geometry and drawing


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1]: x grows to the right, y downwards."""
    c = (np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0
    x, y = np.tile(c, (size, 1)), np.tile(c[:, None], (1, size))
    x.flags.writeable = y.flags.writeable = False
    return x, y


@dataclass(frozen=True)
class _Frame:
    """The lesion's own coordinates (u, v) over the image: lesion radius 1, centred, rotated."""

    size: int
    cx: float
    cy: float
    angle: float
    radius: float  # in image units, where the half side of the image is 1
    u: np.ndarray
    v: np.ndarray
    rho: np.ndarray

    @classmethod
    def build(cls, size: int, cx: float, cy: float, angle: float, radius: float) -> "_Frame":
        x, y = _grid(size)
        c, s = math.cos(angle) / radius, math.sin(angle) / radius
        dx, dy = x - np.float32(cx), y - np.float32(cy)
        u, v = c * dx + s * dy, c * dy - s * dx
        return cls(size, cx, cy, angle, radius, u, v, np.hypot(u, v))

    def pixel_scale(self) -> float:
        """Pixels per lesion unit."""
        return self.radius * self.size / 2

    def to_pixels(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) lesion coordinates -> (N, 2) Pillow pixel coordinates (column, row)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        u, v = uv[..., 0], uv[..., 1]
        x = self.cx + self.radius * (c * u - s * v)
        y = self.cy + self.radius * (s * u + c * v)
        return (np.stack([x, y], axis=-1) + 1.0) * (self.size / 2) - 0.5

    def noise(self, rng: np.random.Generator, cells: int, extent: float = 2.0) -> np.ndarray:
        """Smooth value noise in [0, 1], fixed to the lesion (it turns and moves with it)."""
        grid = Image.fromarray(rng.random((cells + 1, cells + 1), dtype=np.float32))
        k = cells / (2 * extent)
        step = 2.0 / (self.size * self.radius)
        c, s = math.cos(self.angle), math.sin(self.angle)
        # Pillow samples output pixel (col + 0.5, row + 0.5); lesion u, v are affine in them.
        u0 = (c * (-1 - self.cx) + s * (-1 - self.cy)) / self.radius
        v0 = (c * (-1 - self.cy) - s * (-1 - self.cx)) / self.radius
        coeffs = (k * c * step, k * s * step, k * (u0 + extent), -k * s * step, k * c * step, k * (v0 + extent))
        out = grid.transform((self.size, self.size), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
        return np.clip(np.asarray(out), 0.0, 1.0)

    def stamp(self, draw: Callable[[ImageDraw.ImageDraw], None], blur: float = 0.0) -> np.ndarray:
        """A coverage layer in [0, 1] drawn with Pillow (fast, in C)."""
        layer = Image.new("L", (self.size, self.size), 0)
        draw(ImageDraw.Draw(layer))
        if blur > 0:
            layer = layer.filter(ImageFilter.GaussianBlur(blur))
        return np.asarray(layer, dtype=np.float32) * np.float32(1 / 255)

    def disks(self, centers: np.ndarray, radii: np.ndarray, blur: float = 0.0) -> np.ndarray:
        px, pr = self.to_pixels(centers), np.maximum(np.asarray(radii) * self.pixel_scale(), 0.5)

        def draw(d: ImageDraw.ImageDraw) -> None:
            for (x, y), r in zip(px, pr):
                d.ellipse((x - r, y - r, x + r, y + r), fill=255)

        return self.stamp(draw, blur)

    def ellipses(self, centers: np.ndarray, rx: np.ndarray, ry: np.ndarray, angles: np.ndarray, blur: float = 0.0) -> np.ndarray:
        t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        polygons = []
        for (u, v), a, b, th in zip(centers, rx, ry, angles):
            eu, ev = a * np.cos(t), b * np.sin(t)
            pts = np.stack([u + eu * math.cos(th) - ev * math.sin(th), v + eu * math.sin(th) + ev * math.cos(th)], -1)
            polygons.append(self.to_pixels(pts))

        def draw(d: ImageDraw.ImageDraw) -> None:
            for poly in polygons:
                d.polygon([tuple(p) for p in poly], fill=255)

        return self.stamp(draw, blur)

    def lines(self, polylines: list[np.ndarray], widths: list[float], blur: float = 0.0) -> np.ndarray:
        paths = [self.to_pixels(p) for p in polylines]

        def draw(d: ImageDraw.ImageDraw) -> None:
            for path, w in zip(paths, widths):
                d.line([tuple(p) for p in path], fill=255, width=max(1, round(w)), joint="curve")

        return self.stamp(draw, blur)

    def network(self, spacing: float, angle: float, thickness: float = 0.5) -> np.ndarray:
        """A honeycomb-like pigment network: 1 on the lines, 0 in the holes."""
        k = np.float32(2 * np.pi / spacing)
        h = sum(np.cos(k * (self.u * np.float32(math.cos(angle + a)) + self.v * np.float32(math.sin(angle + a))))
                for a in (0.0, 2 * np.pi / 3, 4 * np.pi / 3))
        return _smoothstep(thickness, thickness - 1.0, h)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - np.float32(edge0)) * np.float32(1.0 / (edge1 - edge0)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Per-pixel blend of colours (3, 1, 1) or colour fields (3, H, W): a where t = 0, b where t = 1."""
    return a + (b - a) * t


def _in_lesion(rng: np.random.Generator, count: int, rmin: float, rmax: float) -> np.ndarray:
    """``count`` points in the annulus rmin..rmax of the lesion, as (count, 2)."""
    r = np.sqrt(rng.uniform(rmin ** 2, rmax ** 2, count))
    th = rng.uniform(0, 2 * np.pi, count)
    return np.stack([r * np.cos(th), r * np.sin(th)], -1)


def _rgb(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32).reshape(3, 1, 1)


# Dermoscopy palette (sRGB in [0, 1]). Colour fields are planar (3, H, W): numpy broadcasts
# a (H, W) weight over them several times faster than over the last axis of (H, W, 3).
_LIGHT_BROWN = _rgb(0.62, 0.44, 0.29)
_DARK_BROWN = _rgb(0.33, 0.20, 0.12)
_BLACK = _rgb(0.09, 0.07, 0.07)
_BLUE_GREY = _rgb(0.44, 0.48, 0.56)
_RED = _rgb(0.74, 0.22, 0.24)
_VESSEL_RED = _rgb(0.72, 0.10, 0.14)
_PINK = _rgb(0.92, 0.62, 0.64)
_PEARL = _rgb(0.95, 0.86, 0.86)
_ERYTHEMA = _rgb(0.86, 0.46, 0.44)
_TAN = _rgb(0.72, 0.56, 0.38)
_WAXY_BROWN = _rgb(0.52, 0.38, 0.24)
_WHITE = _rgb(0.97, 0.95, 0.92)
_KERATIN = _rgb(0.95, 0.89, 0.62)
_PURPLE = _rgb(0.46, 0.13, 0.36)
_DARK_RED = _rgb(0.50, 0.07, 0.13)
_SKIN_LIGHT = _rgb(0.96, 0.84, 0.77)
_SKIN_DARK = _rgb(0.44, 0.29, 0.21)


# --------------------------------------------------------------------------- the eight diagnoses


@dataclass(frozen=True)
class _Shape:
    radius: tuple[float, float]  # lesion radius, as a fraction of the half image side
    lobes: tuple[float, float]  # amplitude of the low harmonics (2-5): asymmetry
    ragged: tuple[float, float]  # amplitude of the high harmonics (7-15): a ragged border
    edge: tuple[float, float]  # width of the border transition: sharp (0.02) to ill-defined (0.4)
    opacity: float


_SHAPES: dict[str, _Shape] = {
    "MEL": _Shape((0.45, 0.68), (0.10, 0.20), (0.02, 0.045), (0.03, 0.08), 0.96),
    "NV": _Shape((0.20, 0.34), (0.01, 0.04), (0.0, 0.0), (0.05, 0.10), 0.92),
    "BCC": _Shape((0.30, 0.50), (0.05, 0.12), (0.0, 0.015), (0.08, 0.14), 0.85),
    "AK": _Shape((0.38, 0.60), (0.06, 0.14), (0.015, 0.035), (0.25, 0.40), 0.80),
    "BKL": _Shape((0.30, 0.50), (0.04, 0.09), (0.005, 0.015), (0.02, 0.04), 0.93),
    "DF": _Shape((0.17, 0.28), (0.02, 0.05), (0.0, 0.0), (0.12, 0.20), 0.88),
    "VASC": _Shape((0.20, 0.36), (0.06, 0.12), (0.0, 0.0), (0.015, 0.03), 0.96),
    "SCC": _Shape((0.28, 0.45), (0.05, 0.12), (0.01, 0.025), (0.06, 0.12), 0.90),
}


def _border(rng: np.random.Generator, shape: _Shape) -> list[tuple[int, float, float]]:
    """Harmonics (k, amplitude, phase) of the lesion's radius as a function of the angle."""
    low = [(k, rng.uniform(*shape.lobes) / (k - 1), rng.uniform(0, 2 * np.pi)) for k in range(2, 6)]
    high = [(k, rng.uniform(*shape.ragged) * rng.random(), rng.uniform(0, 2 * np.pi)) for k in range(7, 16, 2)]
    return [h for h in low + high if h[1] > 0]


def _radial_distance(frame: _Frame, harmonics: list[tuple[int, float, float]]) -> np.ndarray:
    """Distance from the centre over the border radius at that angle: < 1 inside the lesion."""
    phi = np.arctan2(frame.v, frame.u)
    r = np.ones_like(phi)
    for k, amplitude, phase in harmonics:
        r += np.float32(amplitude) * np.cos(np.float32(k) * phi + np.float32(phase))
    return frame.rho / np.maximum(r, 0.3)


Painter = Callable[[_Frame, np.ndarray, np.random.Generator], np.ndarray]


def _paint_mel(f: _Frame, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    colour = _mix(_LIGHT_BROWN, _DARK_BROWN, f.noise(rng, 4))
    colour = _mix(colour, _BLACK, _smoothstep(0.5, 0.7, f.noise(rng, 5)))
    colour = _mix(colour, _BLUE_GREY, 0.9 * _smoothstep(0.55, 0.72, f.noise(rng, 3)))
    colour = _mix(colour, _RED, 0.8 * _smoothstep(0.6, 0.75, f.noise(rng, 4)))
    # An atypical network: broken up, thick and thin, present in places only.
    network = f.network(rng.uniform(0.1, 0.2), rng.uniform(0, np.pi), thickness=rng.uniform(0.0, 0.8))
    colour = _mix(colour, _DARK_BROWN * np.float32(0.6), 0.6 * network * _smoothstep(0.4, 0.8, f.noise(rng, 6)))
    # Irregular dots and globules, crowded on one side.
    side, count = rng.uniform(0, 2 * np.pi), int(rng.integers(6, 20))
    th = side + rng.normal(0, 0.8, count)
    r = rng.uniform(0.3, 0.95, count)
    dots = f.disks(np.stack([r * np.cos(th), r * np.sin(th)], -1), rng.uniform(0.02, 0.06, count))
    return _mix(colour, _BLACK, 0.9 * dots)


def _paint_nv(f: _Frame, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    base = _mix(_LIGHT_BROWN, _DARK_BROWN, rng.uniform(0.15, 0.75))
    centre = _mix(base, base * np.float32(rng.uniform(0.75, 1.15)), 1.0 - np.clip(d, 0, 1))
    network = f.network(rng.uniform(0.13, 0.2), rng.uniform(0, np.pi), thickness=0.4)
    return _mix(centre, base * np.float32(0.6), 0.7 * network * (1.0 - _smoothstep(0.6, 1.0, d)))


def _arborizing_vessels(rng: np.random.Generator) -> tuple[list[np.ndarray], list[float]]:
    """Branching vessel trees (lesion coordinates) and their relative widths."""
    paths, widths = [], []

    def grow(start: np.ndarray, heading: float, length: float, width: float, depth: int) -> None:
        t = np.linspace(0, 1, 5)[:, None]
        bend = rng.normal(0, 0.35)
        headings = heading + bend * t[:, 0]
        steps = np.stack([np.cos(headings), np.sin(headings)], -1) * (length / 4)
        path = start + np.concatenate([[[0, 0]], np.cumsum(steps[1:], 0)])
        paths.append(path)
        widths.append(width)
        if depth > 0:
            for sign in (-1, 1):
                grow(path[-1], headings[-1] + sign * rng.uniform(0.35, 0.8), length * 0.65, width * 0.6, depth - 1)

    for _ in range(int(rng.integers(2, 5))):
        start = _in_lesion(rng, 1, 0.45, 0.85)[0]
        heading = math.atan2(-start[1], -start[0]) + rng.normal(0, 0.6)
        grow(start, heading, rng.uniform(0.35, 0.6), 1.0, depth=2)
    return paths, widths


def _paint_bcc(f: _Frame, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    colour = _mix(_PINK, _PEARL, f.noise(rng, 4))
    count = int(rng.integers(2, 6))
    rx = rng.uniform(0.08, 0.2, count)
    nests = f.ellipses(_in_lesion(rng, count, 0.0, 0.7), rx, rx * rng.uniform(0.5, 0.9, count),
                       rng.uniform(0, np.pi, count), blur=0.6)
    colour = _mix(colour, _BLUE_GREY * np.float32(0.85), 0.9 * nests)
    paths, widths = _arborizing_vessels(rng)
    trunk = max(1.0, f.size / 70)
    vessels = f.lines(paths, [trunk * w for w in widths], blur=0.4)
    return _mix(colour, _VESSEL_RED, 0.95 * vessels)


def _paint_ak(f: _Frame, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    colour = _mix(_ERYTHEMA, _RED, 0.6 * f.noise(rng, 5))
    spacing = rng.uniform(0.16, 0.22)
    g = np.arange(-1.3, 1.3 + 1e-6, spacing)
    centres = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2) + rng.normal(0, spacing * 0.15, (g.size ** 2, 2))
    follicles = f.disks(centres, rng.uniform(0.18, 0.26) * spacing * np.ones(len(centres)), blur=0.5)
    colour = _mix(colour, _rgb(0.96, 0.90, 0.80), 0.85 * follicles * (1.0 - _smoothstep(0.5, 1.1, d)))
    scale = _smoothstep(0.6, 0.8, f.noise(rng, 14))
    return _mix(colour, _WHITE, 0.7 * scale)


def _paint_bkl(f: _Frame, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    colour = _mix(_TAN, _WAXY_BROWN, f.noise(rng, 4))
    # Cerebriform ridges and fissures.
    th = rng.uniform(0, np.pi)
    wave = np.sin(np.float32(rng.uniform(14, 22)) * (f.u * np.float32(math.cos(th)) + f.v * np.float32(math.sin(th)))
                  + np.float32(6.0) * f.noise(rng, 4))
    colour = _mix(colour, _WAXY_BROWN * np.float32(0.7), 0.5 * _smoothstep(0.6, 1.0, wave))
    milia, comedo = int(rng.integers(4, 12)), int(rng.integers(4, 12))
    white = f.disks(_in_lesion(rng, milia, 0.0, 0.85), rng.uniform(0.035, 0.065, milia), blur=0.4)
    dark = f.disks(_in_lesion(rng, comedo, 0.0, 0.85), rng.uniform(0.03, 0.055, comedo), blur=0.3)
    colour = _mix(colour, _WHITE, 0.9 * white)
    return _mix(colour, _rgb(0.18, 0.12, 0.08), 0.85 * dark)


def _paint_df(f: _Frame, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    colour = _mix(_rgb(0.80, 0.60, 0.52), _LIGHT_BROWN, _smoothstep(0.4, 0.85, d))
    network = f.network(rng.uniform(0.14, 0.2), rng.uniform(0, np.pi), thickness=0.3)
    colour = _mix(colour, _DARK_BROWN, 0.3 * network * _smoothstep(0.45, 0.75, d))
    scar = 1.0 - _smoothstep(0.3, 0.45, d + 0.35 * (f.noise(rng, 5) - 0.5) - rng.uniform(0.0, 0.08))
    return _mix(colour, _WHITE, 0.95 * scar)


_LACUNA_COLOURS = np.concatenate([_rgb(0.88, 0.66, 0.68), _RED, _VESSEL_RED, _PURPLE, _DARK_RED], axis=1)[..., 0]


def _paint_vasc(f: _Frame, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    count = int(rng.integers(5, 14))
    centres = _in_lesion(rng, count, 0.0, 0.8)
    radii = rng.uniform(0.15, 0.32, count) * f.pixel_scale()
    shades = rng.integers(1, len(_LACUNA_COLOURS), count)
    px = f.to_pixels(centres)
    layer = Image.new("L", (f.size, f.size), 0)
    draw = ImageDraw.Draw(layer)
    for (x, y), r, shade in zip(px, radii, shades):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=int(shade))
    # Each lacuna its own shade; between them whitish-pink septa on a dark red background.
    shade_of = np.asarray(layer)
    septa = _mix(_LACUNA_COLOURS[:, :1, None], _DARK_RED, 0.6 * f.noise(rng, 5))
    return np.where(shade_of == 0, septa, _LACUNA_COLOURS[:, shade_of])


def _paint_scc(f: _Frame, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    colour = _mix(_PINK, _WHITE, 0.3 + 0.6 * f.noise(rng, 4))
    plug = 1.0 - _smoothstep(0.3, 0.45, d + 0.4 * (f.noise(rng, 6) - 0.5) - rng.uniform(0.0, 0.1))
    colour = _mix(colour, _KERATIN, 0.95 * plug)
    clusters = int(rng.integers(10, 25))
    centres = np.repeat(_in_lesion(rng, clusters, 0.5, 0.95), 3, 0) + rng.normal(0, 0.025, (clusters * 3, 2))
    vessels = f.disks(centres, rng.uniform(0.018, 0.03, clusters * 3), blur=0.3)
    return _mix(colour, _VESSEL_RED, 0.9 * vessels)


_PAINTERS: dict[str, Painter] = {
    "MEL": _paint_mel, "NV": _paint_nv, "BCC": _paint_bcc, "AK": _paint_ak,
    "BKL": _paint_bkl, "DF": _paint_df, "VASC": _paint_vasc, "SCC": _paint_scc,
}

