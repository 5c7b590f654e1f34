"""The embedded default data set: a synthetic archive in the exact ISIC 2019 layout.

    summary = write_archive("var/synth", n=300, seed=0, image_size=128)
    print(summary)

writes, into an empty (or new) folder::

    ISIC_2019_Training_Input/ISIC_0000000.jpg ...   a few ids carry the official ``_downsampled`` suffix
    ISIC_2019_Training_GroundTruth.csv              image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK; one-hot 0.0/1.0; CRLF
    ISIC_2019_Training_Metadata.csv                 image,age_approx,anatom_site_general,lesion_id,sex; CRLF
    ISIC_2019_Training_LesionMasks/<image>.png      the lesion's binary mask (0/255), to check Grad-CAM against

Classes are balanced roughly like ISIC (NV, then MEL, BCC, BKL, then the four rare ones); every
block of 40 images holds all eight diagnoses, so any archive of 40 images or more has them all.
UNK never appears, as in the real training set. Some lesions are photographed more than once
(same ``lesion_id``, same diagnosis, same lesion seen under a different rotation, position,
light and hair); some single photographs have no lesion id.

Each diagnosis is drawn from its own dermoscopic signs: MEL large, asymmetric, ragged, with black,
blue-grey and red zones; NV small, round, even brown with a regular pigment network; BCC pink,
pearly, with arborizing vessels and blue-grey ovoid nests; AK an ill-defined red scaly patch with a
strawberry pattern; BKL a waxy, sharply bounded tan lesion with milia-like cysts and comedo-like
openings; DF small, with a central white scar and a faint peripheral network; VASC well-bounded
red/purple lacunae; SCC a pink-white keratin mass with a yellowish central plug and glomerular
vessels. Nuisance on top: skin tone from light to dark, white balance, uneven illumination, the
dark circular dermoscope vignette, hairs, rotation, position and scale jitter, gaussian noise and
JPEG compression.

Deterministic: the same seed writes byte-identical files. Image ``i`` depends only on
``(seed, i)`` (its lesion on ``(seed, index of the lesion's first image)``, the class plan on
``(seed, i // 40)``), so a larger ``n`` extends an archive without changing its first images.

Speed (``benchmarks/bench_synthetic_archive.py``, 2-core CPU, 24 GiB): 3.7 ms of CPU per image at
128 px, files written (1.9 ms at 64 px, 10.4 ms at 224 px); see docs/benchmarks.md.
"""
from __future__ import annotations

import functools
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dermflow.config import ISIC_CLASSES, ISIC_DIAGNOSES, DataConfig

LESION_MASKS_DIR = "ISIC_2019_Training_LesionMasks"
METADATA_COLUMNS: tuple[str, ...] = ("image", "age_approx", "anatom_site_general", "lesion_id", "sex")
ANATOMIC_SITES: tuple[str, ...] = (
    "anterior torso", "upper extremity", "posterior torso", "lower extremity",
    "lateral torso", "head/neck", "palms/soles", "oral/genital",
)

# One block of the class plan: ISIC-like proportions, every diagnosis present.
_BLOCK_QUOTA: dict[str, int] = {"MEL": 7, "NV": 16, "BCC": 5, "AK": 2, "BKL": 4, "DF": 2, "VASC": 2, "SCC": 2}
_BLOCK = sum(_BLOCK_QUOTA.values())
_PHOTOS_PER_LESION = ((1, 2, 3, 4), (0.6, 0.25, 0.1, 0.05))
_DOWNSAMPLED_RATE = 0.05
_NO_LESION_ID_RATE = 0.15  # of lesions photographed once

# Independent random streams, each seeded by (seed, stream, index).
_PLAN, _LESION, _IMAGE, _META, _ENCODE = range(5)
_JPEG_QUALITY = (70, 96)  # low, high (exclusive)


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng((seed, stream, index))


# --------------------------------------------------------------------------- the archive's rows


@dataclass(frozen=True)
class ArchiveRow:
    """One image of the archive: its ground truth and metadata."""

    index: int
    image: str  # the ISIC id, as in both CSVs and the file name
    diagnosis: str
    lesion_index: int  # index of the lesion's first image; seeds the lesion's appearance
    lesion_id: str  # "" when unknown
    age_approx: int | None
    anatom_site_general: str  # "" when unknown
    sex: str  # "" when unknown


def archive_rows(n: int, seed: int = 0) -> list[ArchiveRow]:
    """The rows ``write_archive(n=n, seed=seed)`` writes, without rendering anything."""
    rows: list[ArchiveRow] = []
    for block in range(math.ceil(n / _BLOCK)):
        rows.extend(_plan_block(seed, block))
    return rows[:n]


def _plan_block(seed: int, block: int) -> list[ArchiveRow]:
    rng = _rng(seed, _PLAN, block)
    start = block * _BLOCK
    diagnoses = rng.permutation(np.repeat(list(_BLOCK_QUOTA), list(_BLOCK_QUOTA.values())))
    lesion_of = np.empty(_BLOCK, dtype=np.int64)
    for code in _BLOCK_QUOTA:
        positions = np.flatnonzero(diagnoses == code)
        k = 0
        while k < len(positions):
            photos = int(rng.choice(_PHOTOS_PER_LESION[0], p=_PHOTOS_PER_LESION[1]))
            lesion_of[positions[k:k + photos]] = start + positions[k]
            k += photos
    downsampled = rng.random(_BLOCK) < _DOWNSAMPLED_RATE
    anonymous = rng.random(_BLOCK) < _NO_LESION_ID_RATE
    photos_of = dict(zip(*np.unique(lesion_of, return_counts=True)))
    rows = []
    for offset in range(_BLOCK):
        index, lesion = start + offset, int(lesion_of[offset])
        has_id = photos_of[lesion] > 1 or not anonymous[lesion - start]
        image = f"ISIC_{index:07d}" + ("_downsampled" if downsampled[offset] else "")
        age, site, sex = _patient(seed, lesion, str(diagnoses[offset]))
        rows.append(ArchiveRow(
            index=index, image=image, diagnosis=str(diagnoses[offset]), lesion_index=lesion,
            lesion_id=f"HAM_{lesion:07d}" if has_id else "", age_approx=age, anatom_site_general=site, sex=sex,
        ))
    return rows


_MEAN_AGE = {"MEL": 60, "NV": 42, "BCC": 67, "AK": 70, "BKL": 62, "DF": 45, "VASC": 50, "SCC": 70}
_SITE_WEIGHTS = np.array([0.28, 0.12, 0.11, 0.20, 0.01, 0.18, 0.02, 0.01])
_SUN_EXPOSED = np.array([0.0, 0.05, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0])  # head/neck, arms: BCC, AK, SCC


def _patient(seed: int, lesion: int, diagnosis: str) -> tuple[int | None, str, str]:
    """Age, site and sex of a lesion (shared by all its photographs); "" / None where unknown."""
    rng = _rng(seed, _META, lesion)
    age = int(np.clip(round(rng.normal(_MEAN_AGE[diagnosis], 14) / 5) * 5, 0, 85))
    weights = _SITE_WEIGHTS + (_SUN_EXPOSED if diagnosis in ("BCC", "AK", "SCC") else 0.0)
    site = ANATOMIC_SITES[int(rng.choice(len(ANATOMIC_SITES), p=weights / weights.sum()))]
    sex = "male" if rng.random() < 0.53 else "female"
    unknown_age, unknown_site, unknown_sex = rng.random(3) < (0.02, 0.10, 0.015)
    return (None if unknown_age else age), ("" if unknown_site else site), ("" if unknown_sex else sex)


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


# --------------------------------------------------------------------------- one photograph


def render_image(diagnosis: str, image_size: int = 128, seed: int = 0, index: int = 0,
                 lesion_index: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One dermoscopy-like photograph and its lesion mask.

    Returns ``(pixels, mask)``: uint8 RGB ``image_size``² x 3, and bool ``image_size``².
    The lesion's appearance comes from ``(seed, lesion_index)`` (default: ``index``), the
    photograph's nuisance (rotation, position, light, hair, noise) from ``(seed, index)``.
    """
    if diagnosis not in _PAINTERS:
        raise ValueError(f"no synthetic images for {diagnosis!r}; known: {list(_PAINTERS)}")
    lesion_rng = _rng(seed, _LESION, index if lesion_index is None else lesion_index)
    photo_rng = _rng(seed, _IMAGE, index)
    shape = _SHAPES[diagnosis]
    radius = lesion_rng.uniform(*shape.radius)
    harmonics = _border(lesion_rng, shape)
    edge = lesion_rng.uniform(*shape.edge)

    frame = _Frame.build(
        image_size, *photo_rng.uniform(-0.15, 0.15, 2), angle=photo_rng.uniform(0, 2 * np.pi),
        radius=radius * photo_rng.uniform(0.9, 1.1),
    )
    d = _radial_distance(frame, harmonics)
    coverage = _smoothstep(1.0 + edge / 2, 1.0 - edge / 2, d)
    lesion = _PAINTERS[diagnosis](frame, d, lesion_rng)

    tone = photo_rng.beta(1.2, 2.8)
    skin = _skin(photo_rng, image_size, tone)
    pixels = _mix(skin, lesion * np.float32(1.0 - 0.3 * tone), shape.opacity * coverage)
    pixels = _photograph(photo_rng, pixels)
    return pixels, d < 1.0


def _skin(rng: np.random.Generator, size: int, tone: float) -> np.ndarray:
    base = _mix(_SKIN_LIGHT, _SKIN_DARK, tone) * _gains(rng, 0.04)
    texture = Image.fromarray(rng.normal(0, 0.035, (7, 7)).astype(np.float32)).resize((size, size), Image.Resampling.BICUBIC)
    return base * (1.0 + np.asarray(texture))


def _gains(rng: np.random.Generator, spread: float) -> np.ndarray:
    return rng.uniform(1 - spread, 1 + spread, (3, 1, 1)).astype(np.float32)


def _photograph(rng: np.random.Generator, pixels: np.ndarray) -> np.ndarray:
    """Camera and dermoscope nuisance: white balance, light, vignette, hairs, noise, focus; -> uint8."""
    size = pixels.shape[1]
    x, y = _grid(size)
    slope, direction, falloff = rng.uniform(0, 0.25), rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.18)
    light = (1.0 + np.float32(slope) * (x * np.float32(math.cos(direction)) + y * np.float32(math.sin(direction)))
             - np.float32(falloff) * (x * x + y * y))
    scope = None
    if rng.random() < 0.6:  # the dermoscope's dark circular rim
        ox, oy = rng.uniform(-0.1, 0.1, 2)
        rim = rng.uniform(0.95, 1.35)
        scope = _smoothstep(rim, rim + rng.uniform(0.04, 0.15), np.hypot(x - np.float32(ox), y - np.float32(oy)))
        light *= 1.0 - scope
    pixels *= light
    pixels *= _gains(rng, 0.07)
    if scope is not None:
        pixels += np.float32(0.03) * scope
    hairs = _hairs(rng, size)
    if hairs is not None:
        pixels = _mix(pixels, _rgb(0.12, 0.08, 0.06) * np.float32(rng.uniform(0.5, 1.2)), hairs)
    row, col = rng.integers(0, size, 2)
    pixels += np.float32(rng.uniform(0.005, 0.025)) * _sensor_noise(size)[:, row:row + size, col:col + size]
    np.clip(pixels, 0.0, 1.0, out=pixels)
    pixels *= 255
    pixels += 0.5
    rgb = np.ascontiguousarray(pixels.astype(np.uint8).transpose(1, 2, 0))
    focus = rng.uniform(0.0, 0.9) * size / 128
    if focus < 0.3:
        return rgb
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(focus)))


@functools.lru_cache(maxsize=4)
def _sensor_noise(size: int) -> np.ndarray:
    """A fixed bank of gaussian noise; each photograph reads a random window of it (much cheaper than drawing)."""
    bank = np.random.default_rng(2019).standard_normal((3, 2 * size, 2 * size), dtype=np.float32)
    bank.flags.writeable = False
    return bank


def _hairs(rng: np.random.Generator, size: int) -> np.ndarray | None:
    count = 0 if rng.random() < 0.45 else int(rng.integers(1, 10))
    if not count:
        return None
    layer = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(layer)
    t = np.linspace(0, 1, 10)[:, None]
    for _ in range(count):
        start = rng.uniform(-1.2, 1.2, 2)
        heading = rng.uniform(0, 2 * np.pi)
        end = start + rng.uniform(0.6, 2.0) * np.array([math.cos(heading), math.sin(heading)])
        bulge = (start + end) / 2 + rng.normal(0, 0.3, 2)
        curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * bulge + t ** 2 * end  # quadratic Bezier
        width = max(1, round(size / 128 * rng.uniform(0.7, 1.8)))
        draw.line([tuple(p) for p in (curve + 1.0) * (size / 2)], fill=int(rng.integers(170, 256)), width=width)
    return np.asarray(layer, dtype=np.float32) * np.float32(1 / 255)


# --------------------------------------------------------------------------- the archive on disk


class ArchiveSummary(dict):
    """What ``write_archive`` wrote: a dict that prints as a short readable block."""

    def __str__(self) -> str:
        classes = ", ".join(f"{code} {count}" for code, count in self["classes"].items())
        return "\n".join([
            f"synthetic ISIC 2019 archive: {self['root']}",
            f"  images   {self['images']} ({self['image_size']} px, seed {self['seed']}) in {self['images_dir']}",
            f"  classes  {classes}",
            f"  lesions  {self['lesions']} ({self['repeated_lesions']} photographed more than once, "
            f"{self['images_without_lesion_id']} images without a lesion id)",
            f"  csv      {self['ground_truth_csv']}",
            f"           {self['metadata_csv']}",
            f"  masks    {self['masks_dir']}",
        ])


def write_archive(out: str | Path, n: int = 300, seed: int = 0, image_size: int = 128,
                  progress: bool = False) -> ArchiveSummary:
    """Writes a synthetic archive of ``n`` images in the ISIC 2019 layout into ``out``.

    ``out`` must be new or empty. Returns an :class:`ArchiveSummary` (a dict): paths, counts
    per class, lesions.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root} is not an empty folder; write the synthetic archive into a new one")
    layout = DataConfig()
    images_dir, masks_dir = root / layout.images_dir, root / LESION_MASKS_DIR
    images_dir.mkdir(parents=True)
    masks_dir.mkdir()

    rows = archive_rows(n, seed)
    report_every = max(1, n // 10)
    for done, row in enumerate(rows, start=1):
        pixels, mask = render_image(row.diagnosis, image_size, seed, row.index, row.lesion_index)
        quality = int(_rng(seed, _ENCODE, row.index).integers(*_JPEG_QUALITY))
        (images_dir / f"{row.image}.jpg").write_bytes(_jpeg(pixels, quality))
        (masks_dir / f"{row.image}.png").write_bytes(_png(mask))
        if progress and (done % report_every == 0 or done == n):
            print(f"synth: {done}/{n} images", file=sys.stderr, flush=True)

    _write_csv(root / layout.ground_truth_csv, ("image", *ISIC_CLASSES), [_ground_truth(r) for r in rows])
    _write_csv(root / layout.metadata_csv, METADATA_COLUMNS, [_metadata(r) for r in rows])
    return _summary(root, rows, seed, image_size, images_dir, masks_dir, layout)


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _png(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * np.uint8(255)).save(buffer, format="PNG")
    return buffer.getvalue()


def _ground_truth(row: ArchiveRow) -> list[str]:
    return [row.image, *("1.0" if code == row.diagnosis else "0.0" for code in ISIC_CLASSES)]


def _metadata(row: ArchiveRow) -> list[str]:
    age = "" if row.age_approx is None else str(row.age_approx)
    return [row.image, age, row.anatom_site_general, row.lesion_id, row.sex]


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    # The official files: comma-separated, no quoting needed, CRLF line ends, no BOM.
    lines = [",".join(header), *(",".join(row) for row in rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))


def _summary(root: Path, rows: list[ArchiveRow], seed: int, image_size: int, images_dir: Path,
             masks_dir: Path, layout: DataConfig) -> ArchiveSummary:
    photos_per_lesion: dict[int, int] = {}
    for row in rows:
        photos_per_lesion[row.lesion_index] = photos_per_lesion.get(row.lesion_index, 0) + 1
    return ArchiveSummary(
        root=str(root),
        images_dir=str(images_dir),
        ground_truth_csv=str(root / layout.ground_truth_csv),
        metadata_csv=str(root / layout.metadata_csv),
        masks_dir=str(masks_dir),
        images=len(rows),
        classes={code: sum(r.diagnosis == code for r in rows) for code in ISIC_DIAGNOSES},
        lesions=len(photos_per_lesion),
        repeated_lesions=sum(count > 1 for count in photos_per_lesion.values()),
        images_without_lesion_id=sum(not r.lesion_id for r in rows),
        seed=seed,
        image_size=image_size,
    )
