"""How fast is the synthetic ISIC archive, and how much of that is drawing the lesions?

For each image size, times ``write_archive`` (render + JPEG + PNG mask + files) and, as the
baseline measured in the same run, the floor: the same number of flat-colour images encoded
and written the same way (JPEG + PNG mask, same folders), with no rendering. Then the render
time alone per diagnosis at 128 px. The fastest of ``--repeat`` runs is kept, in wall and CPU time; the
ratio is of CPU times, which other jobs sharing the cores barely move.

    .venv/bin/python benchmarks/bench_synthetic_archive.py [--n 200] [--repeat 3]
"""
from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from dermflow.config import ISIC_DIAGNOSES
from timing import best_seconds
from dermflow.synthetic.archive_writer import render_image, write_archive


def write_flat_images(root: Path, n: int, size: int) -> None:
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    pixels = np.full((size, size, 3), 180, dtype=np.uint8)
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[size // 4: -size // 4, size // 4: -size // 4] = 255
    for i in range(n):
        jpeg, png = io.BytesIO(), io.BytesIO()
        Image.fromarray(pixels).save(jpeg, format="JPEG", quality=85)
        Image.fromarray(mask).save(png, format="PNG")
        (images / f"ISIC_{i:07d}.jpg").write_bytes(jpeg.getvalue())
        (masks / f"ISIC_{i:07d}.png").write_bytes(png.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 224])
    args = parser.parse_args()

    print(f"write_archive, {args.n} images, best of {args.repeat}")
    print(f"{'size':>5} {'ms/image':>9} {'cpu ms':>7} {'floor ms/image':>15} {'floor cpu':>10} {'ratio':>6} {'images/s':>9}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            runs = iter(range(10 ** 6))
            full = best_seconds(lambda: write_archive(Path(tmp) / f"a{next(runs)}", n=args.n, image_size=size), args.repeat)
            floor = best_seconds(lambda: write_flat_images(Path(tmp) / f"f{next(runs)}", args.n, size), args.repeat)
        (full, full_cpu), (floor, floor_cpu) = full, floor
        print(f"{size:>5} {1000 * full / args.n:>9.2f} {1000 * full_cpu / args.n:>7.2f} {1000 * floor / args.n:>15.2f}"
              f" {1000 * floor_cpu / args.n:>10.2f} {full_cpu / floor_cpu:>6.1f} {args.n / full:>9.0f}")

    print("\nrender_image alone at 128 px (no encoding), best of", args.repeat)
    print(f"{'class':>5} {'ms':>6} {'cpu ms':>7}")
    for code in ISIC_DIAGNOSES:
        wall, cpu = best_seconds(lambda: [render_image(code, 128, 0, i) for i in range(40)], args.repeat)
        print(f"{code:>5} {1000 * wall / 40:>6.2f} {1000 * cpu / 40:>7.2f}")


if __name__ == "__main__":
    main()
