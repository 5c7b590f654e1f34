"""A simple lesion mask for real dermoscopy images, and how much of a Grad-CAM falls inside it.

    mask = lesion_mask(pixels)                      # bool [H, W], or None when no lesion stands out
    mask = lesion_mask_of_jpeg(prepared_jpeg)       # the same, at about WORK_SIDE (a fast reduced JPEG decode)
    attention = lesion_attention(gradcam, mask)     # LesionAttention(mass_inside, peak_on_lesion, lesion_share)

Scoring (``LesionPredictor``) and the artefact check both take the mask of the prepared JPEG with
``lesion_mask_of_jpeg``, so the page, the Parquet rows and the report measure against the same mask.

The mask: the image shrunk to :data:`WORK_SIDE`, colour-normalised (shades of grey, p = 6: each
channel divided by its own illuminant estimate), its luminance smoothed (a Gaussian of 2% of the
side), then Otsu's threshold. The dark dermoscope rim (nearly black and connected to the border) is
left out before thresholding. Of the dark connected regions the one that is large and central wins
(area weighted by a Gaussian of its centre's distance to the image centre, and down by the share of the
image's border it runs along: uneven light darkens edges); holes are filled. A mask
smaller than 0.3% or larger than 90% of the image is no mask (None). This works for most dermoscopy
(a pigmented lesion darker than the skin around it); it fails on pale lesions and on images that are
all lesion. Synthetic archives carry their true masks (``ISIC_2019_Training_LesionMasks/``).

numpy, scipy and Pillow only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

WORK_SIDE = 128  # the mask is computed at this longer side, then scaled back
MIN_SHARE, MAX_SHARE = 0.003, 0.90
PEAK_MARGIN = 0.05  # the Grad-CAM peak counts as on the lesion within this share of the side around the mask


def lesion_mask(pixels: np.ndarray) -> np.ndarray | None:
    """uint8 RGB [H, W, 3] -> bool [H, W] (True on the lesion), or None when no plausible lesion is found."""
    from scipy import ndimage

    h, w = pixels.shape[:2]
    scale = WORK_SIDE / max(h, w)
    small = Image.fromarray(pixels).resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.BILINEAR)
    rgb = np.asarray(small, dtype=np.float32) / 255.0
    illuminant = np.power(np.mean(np.power(rgb + 1e-4, 6), axis=(0, 1)), 1 / 6)
    rgb = rgb / illuminant * illuminant.mean()
    grey = ndimage.gaussian_filter(rgb @ np.array([0.299, 0.587, 0.114], np.float32), sigma=0.02 * WORK_SIDE)
    rim = _border_connected(grey < 0.25 * np.percentile(grey, 95))
    inside = ~rim
    if inside.sum() < 16:
        return None
    dark = (grey < otsu_threshold(grey[inside])) & inside
    dark = ndimage.binary_opening(dark, iterations=1)
    chosen = _central_component(dark)
    if chosen is None:
        return None
    chosen = ~_border_connected(~chosen)  # holes filled: whatever the border cannot reach from outside
    share = float(chosen.mean())
    if not MIN_SHARE <= share <= MAX_SHARE:
        return None
    return resize_mask(chosen, (h, w))


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool [h, w] -> bool ``shape`` (nearest)."""
    if mask.shape == tuple(shape):
        return mask
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((shape[1], shape[0]), Image.NEAREST)) > 127


def lesion_mask_of_jpeg(data: bytes) -> np.ndarray | None:
    """The lesion mask of an encoded image, at about :data:`WORK_SIDE` (JPEG decoded at a reduced scale)."""
    import io

    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (2 * WORK_SIDE, 2 * WORK_SIDE))  # JPEG: decode at 1/2, 1/4 or 1/8 scale, still >= 2x WORK_SIDE
        pixels = np.asarray(image.convert("RGB"))
    mask = lesion_mask(pixels)
    if mask is None:
        return None
    scale = WORK_SIDE / max(mask.shape)
    return resize_mask(mask, (max(8, round(mask.shape[0] * scale)), max(8, round(mask.shape[1] * scale))))


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of ``values``: the cut that maximises the between-class variance (the middle of a tie)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return high
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = (weight_low * weight_high * (mean_low - mean_high) ** 2)[:-1]
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))  # an empty gap between the groups: its middle
    return float(edges[int(round((best[0] + best[-1]) / 2)) + 1])


def _border_connected(region: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    labels, _ = ndimage.label(region)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.isin(labels, border[border > 0])


def _central_component(dark: np.ndarray) -> np.ndarray | None:
    from scipy import ndimage

    labels, count = ndimage.label(dark)
    if count == 0:
        return None
    h, w = dark.shape
    index = np.arange(1, count + 1)
    areas = ndimage.sum(dark, labels, index)
    centres = np.array(ndimage.center_of_mass(dark, labels, index)).reshape(-1, 2)
    distance = np.hypot((centres[:, 0] - h / 2) / h, (centres[:, 1] - w / 2) / w)
    edge = np.zeros_like(dark)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    on_edge = ndimage.sum(edge, labels, index) / (2 * (h + w))  # share of the image's border the region runs along
    scores = areas * np.exp(-(distance / 0.35) ** 2) * (1 - np.minimum(on_edge, 0.9)) ** 2
    return labels == index[int(np.argmax(scores))]


@dataclass(frozen=True)
class LesionAttention:
    """Where a Grad-CAM lies against a lesion mask."""

    mass_inside: float  # share of the heatmap's mass inside the lesion, in [0, 1]
    peak_on_lesion: bool  # the hottest pixel lies on the lesion (or within PEAK_MARGIN of it)
    lesion_share: float  # share of the image the lesion covers


def upsample_cam(gradcam: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float [h, w] -> float32 [H, W], bilinear (as the heatmap overlays)."""
    image = Image.fromarray(np.ascontiguousarray(gradcam, dtype=np.float32))
    return np.clip(np.asarray(image.resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.float32), 0.0, None)


def lesion_attention(gradcam: np.ndarray, mask: np.ndarray | None) -> LesionAttention | None:
    """The heatmap's mass inside ``mask`` and whether its peak is on it; None without a mask or a heatmap."""
    if mask is None or not mask.any():
        return None
    cam = upsample_cam(gradcam, mask.shape)
    total = float(cam.sum())
    if total <= 0:
        return None
    peak = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return LesionAttention(
        mass_inside=float(cam[mask].sum()) / total,
        peak_on_lesion=bool(_near_mask(mask, peak)),
        lesion_share=float(mask.mean()),
    )


def _near_mask(mask: np.ndarray, point: tuple[int, int]) -> bool:
    margin = max(1, round(PEAK_MARGIN * min(mask.shape)))
    r, c = point
    return bool(mask[max(0, r - margin):r + margin + 1, max(0, c - margin):c + margin + 1].any())
