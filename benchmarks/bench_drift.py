"""The drift check on the real sample: quiet on held-out batches, firing on non-dermoscopy photos and on another source.

    KERAS_HOME=var/keras python benchmarks/bench_drift.py --model REGISTRY/NAME/VERSION [--data-root DIR] \
        [--work-dir DIR] [--batches 200] [--batch-size 200]

``--model``: a model trained on the sample (e.g. ``dermflow train --data-root ../shared/data/isic2019-dev --set
train.preset=fast``), exported with its drift baseline (its lesion-grouped test split, MEL/NV/BCC).

Images, each scored once by ``run_scoring`` (the Beam job, so every feature comes from scoring's own
path) and read back from the predictions Parquet:

* **held-out**: the sample's eval split (same config: ``data.eval_fraction``, ``data.test_fraction``,
  ``data.split_seed``), MEL/NV/BCC: held out from training and not in the baseline. Split in two halves
  by a hash of the lesion group: half A for choosing thresholds, half B for the figures.
* **photos**: skimage's bundled sample images (photographs, micrographs, documents; none dermoscopy),
  in variants (crop, flip, turn, resize to a longer side of 300-1600 px, brightness, JPEG quality 60-95
  or PNG); the bundled images are split in two disjoint groups (A, B) by name.
* **re-encoded**: the same halves, shrunk to 40-60 % and re-encoded at JPEG quality 50-70.
* **synthetic**: ``dermflow.synthetic`` archives at the real archive's sizes (``--full-size``; seeds A, B).

Batches of ``--batch-size`` (bootstrap, with replacement): quiet = held-out; photos = 90 % held-out +
10 % photos; another source = all re-encoded, or all synthetic. Thresholds, chosen on half A alone: each
feature's threshold is a quantile (level q) of its distances over half A's quiet batches, times a margin m,
rounded up, and never below the distance of 5 % of a batch moved to values the baseline never had
(Jensen-Shannon 0.0255, L-infinity 0.05). Among the (q, m) that detect every half-A shift in >= 97.5 % of
its batches, the one whose thresholds, chosen on one quarter of half A, keep the other quarter's batches quiet
most often (both ways: a new pool of images sits further from the baseline than more batches of the same pool
do); then the smallest m and q. Figures (TFDV's own verdict with those thresholds) are on half B / group B
only. Also: the false-alarm rate at other batch sizes, each pool judged as one run, and the same choice
among the colour and output features alone (``without_size_and_format``: a new source whose images
happen to have the training images' sizes and format). Prints one JSON document; ``<work dir>/bench_drift.json``
keeps it; each pool's scored rows are kept there too (``scores/*.pool.parquet``), so a re-run only samples.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from dermflow.config import load_config

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "isic2019-dev"
QUIET_TARGET = 0.975  # family-wise quiet rate on half A when choosing thresholds
# No threshold below the distance of 5 % of a batch moved to values the baseline never had: Jensen-Shannon
# (base 2) of P and 0.95 P + 0.05 R with R disjoint from P, and L-infinity 0.05. Without it, a feature that
# never moves in the sample (its images come in three sizes, all JPEG) would fire on a single odd image.
JS_FLOOR = round(0.5 * (-math.log2(0.975)) + 0.5 * (0.95 * math.log2(0.95 / 0.975) + 0.05 * math.log2(2)), 4)
L_INFINITY_FLOOR = 0.05
LEVELS = (0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 1.0)
PHOTO_SHARE = 0.1


def held_out_halves(cfg) -> tuple[list[Path], list[Path], dict[str, str]]:
    """The eval split's MEL/NV/BCC files, in two halves by a hash of their lesion group; and half A's files
    in two quarters by another hash (file name -> A1 / A2), for choosing the thresholds' margin within half A."""
    from dermflow.components.isic_example_gen.span_ingest import plan_ingest_spans
    from dermflow.isic.lesion_split import SplitItem, group_key, unit_hash

    targets = set(cfg.labels.code_to_label())
    items = [i for i in plan_ingest_spans(cfg, None).items if i.split == "eval" and i.record.diagnosis in targets]
    halves: tuple[list[Path], list[Path]] = ([], [])
    quarters: dict[str, str] = {}
    for item in items:
        key = group_key(SplitItem(item.record.image_id, item.record.lesion_id, item.record.diagnosis))
        in_b = unit_hash(12345, key) >= 0.5
        halves[in_b].append(Path(item.path))
        if not in_b:
            quarters[Path(item.path).name] = "A2" if unit_hash(54321, key) >= 0.5 else "A1"
    return halves[0], halves[1], quarters


def _encode(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if rng.random() < 0.2:
        image.save(buffer, "PNG")
        return buffer.getvalue(), "png"
    image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(
        buffer, "JPEG", quality=int(rng.integers(60, 96)))
    return buffer.getvalue(), "jpg"


def photo_bases() -> dict[str, np.ndarray]:
    from skimage import data

    names = ["astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass",
             "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon", "page",
             "retina", "rocket", "text"]
    bases = {name: getattr(data, name)() for name in names}
    bases["motorcycle"] = data.stereo_motorcycle()[0]  # its right view is nearly the same picture: one group only
    return {name: (pixels * 255).astype(np.uint8) if pixels.dtype == bool else pixels for name, pixels in bases.items()}


def write_photo_variants(folder: Path, bases: dict[str, np.ndarray], per_base: int, seed: int) -> int:
    """Crops, flips, turns, resizes, brightness and re-encodings of each base image."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, pixels in sorted(bases.items()):
        base = Image.fromarray(pixels[..., :3] if pixels.ndim == 3 else pixels)
        for k in range(per_base):
            w, h = base.size
            cw, ch = int(w * rng.uniform(0.5, 1.0)), int(h * rng.uniform(0.5, 1.0))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            image = base.crop((x, y, x + cw, y + ch))
            if rng.random() < 0.5:
                image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if rng.random() < 0.3:
                image = image.transpose(Image.Transpose.ROTATE_90)
            side = rng.uniform(300, 1600)
            scale = side / max(image.size)
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
            image = image.point(lambda v, f=rng.uniform(0.8, 1.2): min(255, int(v * f)))
            data, ext = _encode(image, rng)
            (folder / f"{name}-{k:03d}.{ext}").write_bytes(data)
            count += 1
    return count


def write_reencoded(folder: Path, sources: list[Path], seed: int) -> int:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        with Image.open(source) as image:
            scale = rng.uniform(0.4, 0.6)
            small = image.convert("RGB").resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
            buffer = io.BytesIO()
            small.save(buffer, "JPEG", quality=int(rng.integers(50, 71)))
        (folder / source.name).write_bytes(buffer.getvalue())
    return len(sources)


def write_synthetic(folder: Path, n: int, seed: int) -> int:
    from dermflow.synthetic.archive_writer import write_archive

    if not folder.is_dir():  # else written by an earlier run in the same work dir (the same seed: the same images)
        write_archive(folder, n=n, seed=seed, full_size=True)
    return n


def score_pool(cfg, inputs: list[Path], model: str, output: Path):
    """Scores the files with the Beam job; returns their rows' monitored columns (kept in ``output``/pool.parquet)."""
    import pyarrow.parquet as pq

    from dermflow.monitoring.drift_features import FEATURE_COLUMNS
    from dermflow.pipelines.scoring.run_monitoring import read_run_rows
    from dermflow.pipelines.scoring_pipeline import run_scoring

    kept = output.with_suffix(".pool.parquet")
    columns = [*FEATURE_COLUMNS, "path"]
    if kept.is_file():  # scored by an earlier run of this benchmark in the same work dir
        table, summary = pq.read_table(kept), json.loads(kept.with_suffix(".json").read_text())
        if "path" not in table.column_names:  # kept before the paths were
            table = _run_rows(output, summary, columns)
            pq.write_table(table, kept)
        return table, summary
    summary = run_scoring(cfg, [str(p) for p in inputs], model, output)
    table = _run_rows(output, summary, columns)
    print(f"bench_drift: scored {summary['scored']} of {summary['files_given']} ({output.name}) in {summary['seconds']} s; "
          f"whole-pool check: {summary['drift']['note'][:200]}", file=sys.stderr, flush=True)
    pq.write_table(table, kept)
    kept.with_suffix(".json").write_text(json.dumps(summary, default=str))
    return table, summary


def _run_rows(output: Path, summary: dict, columns: list[str]):
    import pyarrow.dataset as ds

    files = sorted(str(p) for p in (output / "predictions").rglob(f"part-{summary['run_id']}-*.parquet"))
    return ds.dataset(files, format="parquet").to_table(columns=columns, filter=ds.field("run_id") == summary["run_id"])


class Sampler:
    """Bootstrap batches of pool rows, as feature frames."""

    def __init__(self, pools: dict, features: list[str], batch_size: int, seed: int):
        from dermflow.monitoring.drift_features import feature_frame

        self.frames = {name: feature_frame(table, features) for name, table in pools.items()}
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def batch(self, mix: dict[str, float]):
        import pandas as pd

        parts, left = [], self.batch_size
        for k, (name, share) in enumerate(mix.items()):
            n = left if k == len(mix) - 1 else round(self.batch_size * share)
            left -= n
            frame = self.frames[name]
            parts.append(frame.iloc[self.rng.integers(0, len(frame), n)])
        return pd.concat(parts, ignore_index=True)


def distances(baseline, batch, features: list[str], buckets: int) -> dict[str, float]:
    from dermflow.monitoring.drift_comparison import compare_with_baseline

    result = compare_with_baseline(baseline, batch, {f: 1.0 for f in features}, buckets)
    return {f.feature: f.distance for f in result.features}


def _round_up(value: float) -> float:
    if value <= 0:
        return 0.001
    digits = 1 - int(math.floor(math.log10(value)))
    return math.ceil(value * 10 ** digits) / 10 ** digits


MARGINS = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0)


def thresholds_at(quiet: list[dict], features: list[str], level: float, margin: float) -> dict[str, float]:
    """Each feature's ``level``-quantile over the quiet batches, times ``margin``, rounded up, never below its floor."""
    from dermflow.monitoring.drift_features import is_numeric

    floors = {f: JS_FLOOR if is_numeric(f) else L_INFINITY_FLOOR for f in features}
    return {f: min(1.0, max(floors[f], _round_up(margin * float(np.quantile([r[f] for r in quiet], level)))))
            for f in features}



def choose_thresholds(quiet: list[dict], quarters: tuple[list[dict], list[dict]], shifted: dict[str, list[dict]],
                      features: list[str]) -> tuple[dict, dict]:
    """A (level, margin) chosen on half A alone: among those that detect every half-A shift in >= QUIET_TARGET of
    its batches, the one whose thresholds, chosen on one quarter of half A, keep the other quarter's batches
    quiet most often (both ways: a new pool of images sits further from the baseline than more batches of the
    same pool do); then the smallest margin and level."""
    candidates = {}
    for level in LEVELS:
        for margin in MARGINS:
            cross = min(1 - fired_share(quarters[1], thresholds_at(quarters[0], features, level, margin)),
                        1 - fired_share(quarters[0], thresholds_at(quarters[1], features, level, margin)))
            full = thresholds_at(quiet, features, level, margin)
            candidates[(level, margin)] = {"cross_quarter_quiet": cross, "quiet": 1 - fired_share(quiet, full),
                                           **{name: fired_share(rows, full) for name, rows in shifted.items()}}
    detecting = [k for k, v in candidates.items() if min(v[name] for name in shifted) >= QUIET_TARGET]
    pool = detecting or list(candidates)
    best = max(candidates[k]["cross_quarter_quiet"] for k in pool)
    level, margin = min((k for k in pool if candidates[k]["cross_quarter_quiet"] >= best - 1e-9), key=lambda k: (k[1], k[0]))
    return thresholds_at(quiet, features, level, margin), {
        "level": level, "margin": margin, "on_half_A": candidates[(level, margin)],
        "candidates": {f"{k[0]}x{k[1]}": v for k, v in candidates.items()}}


def judge(baseline, batches: list, thresholds: dict, buckets: int) -> tuple[dict, list[dict]]:
    """TFDV's own verdict with the chosen thresholds (share of batches that drifted, which features fired),
    and every batch's distances."""
    from dermflow.monitoring.drift_comparison import compare_with_baseline

    fired, by_feature, measured = 0, {}, []
    for batch in batches:
        comparison = compare_with_baseline(baseline, batch, thresholds, buckets)
        measured.append({f.feature: f.distance for f in comparison.features})
        fired += bool(comparison.drifted)
        for f in comparison.drifted:
            by_feature[f.feature] = by_feature.get(f.feature, 0) + 1
    return ({"fired": fired / len(batches), "batches": len(batches),
             "features_fired": dict(sorted(by_feature.items(), key=lambda kv: -kv[1]))}, measured)


def fired_share(rows: list[dict], thresholds: dict) -> float:
    return float(np.mean([any(r[f] > t for f, t in thresholds.items()) for r in rows]))


def prepare_pools(cfg, model: str, work: Path, data_root: Path) -> dict:
    half_a, half_b, quarters = held_out_halves(cfg)
    bases = photo_bases()
    names = sorted(bases)
    groups = {"A": {n: bases[n] for n in names[0::2]}, "B": {n: bases[n] for n in names[1::2]}}
    inputs = {}
    for half, files in (("A", half_a), ("B", half_b)):
        linked = work / f"held_out_{half}"
        linked.mkdir(parents=True, exist_ok=True)
        for source in files:
            if not (linked / source.name).exists():
                (linked / source.name).symlink_to(source.resolve())
        inputs[f"held_out_{half}"] = [linked]
        write_photo_variants(work / f"photos_{half}", groups[half], per_base=12, seed=ord(half))
        inputs[f"photos_{half}"] = [work / f"photos_{half}"]
        write_reencoded(work / f"reencoded_{half}", files, seed=ord(half))
        inputs[f"reencoded_{half}"] = [work / f"reencoded_{half}"]
        write_synthetic(work / f"synthetic_{half}", n=200, seed=100 + ord(half))
        inputs[f"synthetic_{half}"] = [work / f"synthetic_{half}" / cfg.data.images_dir]
    pools = {}
    for name, paths in inputs.items():
        pools[name], _ = score_pool(cfg, paths, model, work / "scores" / name)
    names = pools["held_out_A"].column("path").to_pylist()
    for quarter in ("A1", "A2"):
        pools[f"held_out_{quarter}"] = pools["held_out_A"].filter([quarters[Path(n).name] == quarter for n in names])
    return {"pools": pools, "photo_groups": {k: sorted(v) for k, v in groups.items()}, "sizes": {k: v.num_rows for k, v in pools.items()}}


def scenarios(half: str) -> dict[str, dict[str, float]]:
    return {
        "quiet": {f"held_out_{half}": 1.0},
        "photos_10pct": {f"held_out_{half}": 1 - PHOTO_SHARE, f"photos_{half}": PHOTO_SHARE},
        "reencoded": {f"reencoded_{half}": 1.0},
        "synthetic": {f"synthetic_{half}": 1.0},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="REGISTRY/NAME/VERSION, trained on the sample, with a drift baseline")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--batches", type=int, default=200, help="Bootstrap batches per scenario and half.")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="Of the bootstrap draws.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from dermflow.monitoring.drift_baseline import read_drift_baseline
    from dermflow.monitoring.drift_features import feature_frame
    from dermflow.registry import resolve_model

    cfg = load_config(None, [f"data.data_root={args.data_root}", "drift.min_rows=1", *args.overrides])
    registered = resolve_model(args.model, default_name=cfg.model_name)
    baseline = read_drift_baseline(registered.saved_model_dir)
    if baseline is None:
        raise SystemExit(f"{args.model} has no drift baseline: train it with this dermflow")
    features = list(cfg.drift.thresholds())
    buckets = cfg.drift.histogram_buckets
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench_drift-"))
    started = time.perf_counter()
    prepared = prepare_pools(cfg, str(registered.path), work, args.data_root)
    base = feature_frame(baseline.table, features)
    sampler = Sampler(prepared["pools"], features, args.batch_size, seed=args.seed)
    selection = {name: [distances(base, sampler.batch(mix), features, buckets) for _ in range(args.batches)]
                 for name, mix in scenarios("A").items()}
    quiet_a = selection.pop("quiet")
    quarters = tuple([distances(base, sampler.batch({f"held_out_{q}": 1.0}), features, buckets) for _ in range(args.batches)]
                     for q in ("A1", "A2"))
    thresholds, choice = choose_thresholds(quiet_a, quarters, selection, features)
    reported, report_distances = {}, {}
    for name, mix in scenarios("B").items():
        reported[name], report_distances[name] = judge(base, [sampler.batch(mix) for _ in range(args.batches)],
                                                       thresholds, buckets)
    # Ablation: the same choice among colour and outputs only (a new source at the same sizes and format).
    content = [f for f in features if f not in ("width", "height", "format")]
    content_thresholds, content_choice = choose_thresholds(quiet_a, quarters, selection, content)
    without_size = {"thresholds": content_thresholds, "level": content_choice["level"], "margin": content_choice["margin"],
                    "fired_half_B": {name: fired_share(rows, content_thresholds) for name, rows in report_distances.items()}}
    # Each pool as one run, judged with the chosen thresholds (what dermflow score would say of it).
    from dermflow.monitoring.run_drift import check_run

    chosen = cfg.drift.model_copy(update={"jensen_shannon": {f: v for f, v in thresholds.items() if f in cfg.drift.jensen_shannon},
                                          "infinity_norm": {f: v for f, v in thresholds.items() if f in cfg.drift.infinity_norm}})
    whole_pools = {name: check_run(table, baseline, chosen, "bench").note[:400] for name, table in prepared["pools"].items()
                   if name[-2:] not in ("A1", "A2")}
    smaller = {}
    for size in (50, 100, 500):
        sized = Sampler(prepared["pools"], features, size, seed=args.seed * 1000 + size)
        quiet = [sized.batch(scenarios("B")["quiet"]) for _ in range(args.batches)]
        smaller[str(size)] = judge(base, quiet, thresholds, buckets)[0]["fired"]
    result = {
        "model": str(registered.path), "seed": args.seed, "baseline": {"split": baseline.split, "images": baseline.images},
        "pool_sizes": prepared["sizes"], "photo_groups": prepared["photo_groups"], "batch_size": args.batch_size,
        "batches": args.batches, "histogram_buckets": buckets, "thresholds": thresholds, "choice_on_half_A": choice,
        "report_half_B": reported, "false_alarm_rate_by_batch_size_half_B": smaller,
        "without_size_and_format": without_size,
        "distance_quantiles_half_B": {name: {f: [round(float(np.quantile([r[f] for r in rows], q)), 4) for q in (0.05, 0.5, 0.95)]
                                             for f in features} for name, rows in report_distances.items()},
        "whole_pool_checks": whole_pools,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(result, indent=2, sort_keys=True, default=str)
    (work / "bench_drift.json").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
