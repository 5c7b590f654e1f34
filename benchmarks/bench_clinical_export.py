"""Throughput of scoring DICOM images with SRs and segmentations stored into a PACS, against the same job without.

    python benchmarks/bench_clinical_export.py [--images 500] [--size 320x240] [--repeat 1] [--mode multi_processing]

Images: ``--images`` VL Photographic DICOMs made from the synthetic archive (every other one YBR JPEG,
the rest uncompressed RGB; ten images per study), in a local folder. Model: MobileNetV2 alpha 0.35 at
96 px, random weights (``bench_scoring.build_registry``; speed does not depend on the weights).
PACS: Debian's Orthanc with its DICOMweb plugin on a free loopback port (``dermflow.cluster.orthanc_server``),
on the same machine, so its CPU competes with the job's as a hospital's would not.

Two runs per repetition, each in a fresh process, alternating which goes first:
  (a) baseline: ``score.dicom_results=none`` (predictions, errors, gallery, CSV);
  (b) ``score.dicom_results=sr`` with ``score.dicomweb_url``: the same, plus per image an SR and a
      segmentation built by highdicom, written to ``score.clinical_results_dir`` and stored by STOW-RS.
The figure is files given / wall time of ``run_scoring`` (start-up included), and (b)/(a). Goal: >= 0.7x.
CPU seconds of the job (launcher + Beam workers) and of Orthanc are printed too.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import SMALL_MODEL_SIZE, build_registry, rates, run_in_fresh_process  # noqa: E402

USER, PASSWORD = "bench", "bench-secret"
PER_STUDY = 10


def dicom_folder(images: list[Path], folder: Path, size: tuple[int, int]) -> Path:
    """One VL Photographic DICOM per synthetic JPEG, resized to ``size`` (width, height)."""
    import pydicom
    from PIL import Image

    from dermflow.imaging.dicom_reader import encode_dicom

    folder.mkdir(parents=True)
    study = series = ""
    for index, path in enumerate(images):
        if index % PER_STUDY == 0:
            study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
        pixels = np.asarray(Image.open(path).convert("RGB").resize(size))
        data = encode_dicom(pixels, pydicom.uid.generate_uid(), {
            "PatientName": f"Bench^Patient{index // PER_STUDY}", "PatientID": f"B{index // PER_STUDY:05d}",
            "StudyInstanceUID": study, "SeriesInstanceUID": series, "InstanceNumber": index % PER_STUDY + 1,
        }, jpeg_quality=90 if index % 2 else None)
        (folder / f"{path.stem}.dcm").write_bytes(data)
    return folder


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def instances_in(pacs, modality: str) -> int:
    import requests

    found = requests.post(f"{pacs.url}/tools/find", auth=(USER, PASSWORD), timeout=60,
                          json={"Level": "Instance", "Query": {"Modality": modality}}).json()
    return len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT of the DICOM images.")
    parser.add_argument("--repeat", type=int, default=1, help="Pairs of runs (the order alternates).")
    parser.add_argument("--mode", default="multi_processing", choices=["multi_processing", "in_memory", "multi_threading"])
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.lower().split("x"))

    from dermflow.cluster.orthanc_server import OrthancServer, ensure_orthanc
    from dermflow.config import DataConfig
    from dermflow.synthetic.archive_writer import write_archive

    ensure_orthanc()
    with tempfile.TemporaryDirectory(prefix="bench_clinical_") as tmp:
        root = Path(tmp)
        clock = time.perf_counter()
        write_archive(root / "archive", n=args.images, seed=0, image_size=128)
        images = sorted((root / "archive" / DataConfig().images_dir).glob("*.jpg"))[: args.images]
        folder = dicom_folder(images, root / "dicom", (width, height))
        print(f"{len(images)} DICOM images ({width}x{height}, half YBR JPEG, half RGB) in {time.perf_counter() - clock:.0f} s")
        registry = build_registry(root, SMALL_MODEL_SIZE)
        os.environ.update({"DERMFLOW_DICOMWEB_USERNAME": USER, "DERMFLOW_DICOMWEB_PASSWORD": PASSWORD})
        with OrthancServer(root / "orthanc", users={USER: PASSWORD}) as pacs:
            print(f"model: MobileNetV2 alpha 0.35, random, at {SMALL_MODEL_SIZE} px; Orthanc at {pacs.dicomweb_url}; "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            results = {"none": [], "sr": []}
            for repetition in range(args.repeat):
                order = ("none", "sr") if repetition % 2 == 0 else ("sr", "none")
                for kind in order:
                    results[kind].append(_one_run(kind, folder, registry, root / f"{kind}{repetition}", pacs, args.mode))
            print(f"Orthanc holds {instances_in(pacs, 'SR')} SRs and {instances_in(pacs, 'SEG')} segmentations")
        _report(results, len(images))


def _one_run(kind: str, folder: Path, registry: str, root: Path, pacs, mode: str) -> dict:
    overrides = [] if kind == "none" else [
        "score.dicom_results=sr", f"score.clinical_results_dir={root / 'clinical'}", f"score.dicomweb_url={pacs.dicomweb_url}",
    ]
    orthanc_cpu = process_cpu_s(pacs._process.pid)
    run = run_in_fresh_process(folder, registry, root / "out", mode, overrides)
    run["orthanc_cpu_s"] = process_cpu_s(pacs._process.pid) - orthanc_cpu
    print(f"  {kind:4s}: {run['files_given']} files, {run['scored']} scored in {run['wall_s']:.1f} s wall, "
          f"{run['cpu_s']:.1f} CPU-s (job) + {run['orthanc_cpu_s']:.1f} CPU-s (Orthanc); load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    return run


def _report(results: dict, count: int) -> None:
    wall = {kind: sum(r["wall_s"] for r in runs) / len(runs) for kind, runs in results.items()}
    cpu = {kind: sum(r["cpu_s"] + r["orthanc_cpu_s"] for r in runs) / len(runs) for kind, runs in results.items()}
    for kind, label in (("none", "(a) dicom_results=none"), ("sr", "(b) dicom_results=sr, STOW-RS to Orthanc")):
        rate = rates(count, wall[kind], cpu[kind])
        print(f"{label:42s}: {rate['wall']:6.1f} images/s wall, {rate['cpu']:6.1f} images per CPU-second (job + Orthanc)")
    ratio = wall["none"] / wall["sr"]
    print(f"(b)/(a) wall-clock throughput: {ratio:.2f}x (goal >= 0.70x: {'met' if ratio >= 0.7 else 'NOT met'}); "
          f"CPU: {cpu['none'] / cpu['sr']:.2f}x")


if __name__ == "__main__":
    main()
