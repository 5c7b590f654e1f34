"""One synthetic dermoscopy photograph: a lesion of one diagnosis, photographed.

    pixels, mask = render_image("MEL", image_size=128, seed=0, index=7)   # uint8 RGB size², bool mask size²
"""
from __future__ import annotations

import numpy as np

from dermflow.synthetic.camera_effects import _photograph, _skin
from dermflow.synthetic.lesion_painter import _PAINTERS, _SHAPES, _Frame, _border, _mix, _radial_distance, _smoothstep
from dermflow.synthetic.lesion_plan import _IMAGE, _LESION, _rng


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



def render_photo(diagnosis: str, width: int, height: int, seed: int = 0, index: int = 0,
                 lesion_index: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``render_image`` at ``max(width, height)``², the centre ``width`` x ``height`` of it kept (a camera's frame).

    Returns ``(pixels, mask)``: uint8 RGB ``height`` x ``width`` x 3, and bool ``height`` x ``width``.
    A square size gives exactly ``render_image``'s photograph.
    """
    side = max(width, height)
    pixels, mask = render_image(diagnosis, side, seed, index, lesion_index)
    top, left = (side - height) // 2, (side - width) // 2
    return (np.ascontiguousarray(pixels[top:top + height, left:left + width]),
            np.ascontiguousarray(mask[top:top + height, left:left + width]))
