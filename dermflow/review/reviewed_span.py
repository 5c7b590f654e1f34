"""The reviewed cases as training data: clinicians' current verdicts -> the span ``reviewed`` of a data root.

    export = export_reviewed_span(db, Path("/data/isic"), bases=cfg.review.training_bases,
                                  source_roots=[Path("/data/inputs")], image_path=ImagePathSettings.from_config(cfg.data))
    export.path            # /data/isic/spans/reviewed (a link, swapped atomically, to spans/.reviewed-<stamp>/)
    export.images, export.unavailable                   # written cases; verdicts whose image could not be read

The span is in the ISIC layout (docs/ingest.md#spans): ``ISIC_2019_Training_Input/<id>.jpg``, the
one-hot ground truth (the eight codes, ``UNK`` and ``OTHER``: a diagnosis outside the eight, which
ClassFilter keeps as out of scope), the metadata CSV (the verdict's lesion id, and the original
file's ``sha256``, so ingest recognises an image it already holds), and ``span.json`` (kind
``reviewed``, the time the verdicts were read up to, the bases, and every unavailable case).

It holds every image whose **current** verdict (the newest wins) has one of ``bases``, as of now:
a correction replaces the label, a correction on a weaker basis takes the image out. Each image is
the one the model scored: a kept upload from the store (``kept_image``: already prepared), else the
file under one of ``source_roots`` at the verdict's ``image_path`` (the path relative to the scoring
input), checked against the verdict's sha256 and prepared as scoring prepares it
(``dermflow.imaging.model_input.prepare_image``). A verdict whose image cannot be read is listed in
``span.json`` and in the result, never silently lost. Comments and OTHER free text never leave the store.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Iterable

from dermflow.atomic_write import write_text_atomically
from dermflow.config import ISIC_CLASSES, DataConfig
from dermflow.imaging import ImageRejected, sha256_hex
from dermflow.imaging.model_input import ImagePathSettings, prepare_image
from dermflow.isic.csv_reader import METADATA_COLUMNS, OTHER_DIAGNOSIS, SHA256_COLUMN
from dermflow.isic.span_layout import REVIEWED, SPAN_MARKER, SPANS_DIR, read_marker
from dermflow.review.review_database import ReviewDatabase
from dermflow.review.verdict_store import VerdictRecord, current_verdicts, kept_image

REVIEWED_SPAN = "reviewed"  # spans/reviewed: the one span the export writes and replaces
IMAGE_ID_PREFIX = "REVIEW_"


class SpanExportError(ValueError):
    """The span cannot be written where asked (no data root, a hand-made folder in the way)."""


@dataclass
class SpanExport:
    path: Path
    images: int
    by_diagnosis: dict[str, int]
    unavailable: list[dict] = field(default_factory=list)  # {"verdict_id", "sha256", "image_path", "reason"}
    verdicts_until: str = ""
    changed: bool = True  # False: the cases were those of the span already there (only verdicts_until moved)


def source_roots_of(cfg, given: list[Path] | None = None) -> list[Path]:
    """Where the verdicts' image paths are read: ``given``, else ``retrain.source_roots``, else ``airflow.score_inputs``."""
    return list(given or cfg.retrain.source_roots or [Path(p) for p in cfg.airflow.score_inputs])


def image_id_of(sha256: str) -> str:
    return IMAGE_ID_PREFIX + sha256[:16]


def find_source(roots: Iterable[Path], relative: str) -> Path | None:
    """The file ``relative`` names under the first root holding it; never outside a root (no ``..``, no link escape)."""
    if not relative or "\x00" in relative or "\\" in relative or relative.startswith("/"):
        return None
    if any(part in ("..", ".", "") for part in relative.split("/")):
        return None
    for root in roots:
        root = Path(root).resolve()
        candidate = (root / PurePosixPath(relative)).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    return None


def case_image(db: ReviewDatabase, verdict: VerdictRecord, roots: list[Path], settings: ImagePathSettings) -> bytes | str:
    """The prepared JPEG of the verdict's image, or the reason it cannot be had."""
    kept = kept_image(db, verdict.sha256)
    if kept is not None:
        return kept
    if not verdict.image_path:
        return "no kept upload and no image path"
    path = find_source(roots, verdict.image_path)
    if path is None:
        return f"not found under the source roots {[str(r) for r in roots]}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot be read: {type(exc).__name__}: {exc}"
    if sha256_hex(data) != verdict.sha256:
        return f"{path} has changed since it was scored (its sha256 differs)"
    try:
        return prepare_image(data, settings).data
    except ImageRejected as rejected:
        return f"{rejected.reason}: {rejected.message}"


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_span_folder(folder: Path, cases: list[tuple[VerdictRecord, bytes]], data: DataConfig, marker: dict) -> None:
    images = folder / data.images_dir
    images.mkdir(parents=True)
    codes = list(ISIC_CLASSES) + [OTHER_DIAGNOSIS]
    truth, metadata = [], []
    for verdict, jpeg in cases:
        image_id = image_id_of(verdict.sha256)
        (images / f"{image_id}.jpg").write_bytes(jpeg)
        truth.append([image_id] + ["1.0" if code == verdict.diagnosis.value else "0.0" for code in codes])
        metadata.append([image_id, "", "", verdict.lesion_id or "", "", verdict.sha256])
    (folder / data.ground_truth_csv).write_text(csv_text(["image", *codes], truth), encoding="utf-8")
    (folder / data.metadata_csv).write_text(csv_text([*METADATA_COLUMNS, SHA256_COLUMN], metadata), encoding="utf-8")
    (folder / SPAN_MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True), encoding="utf-8")


def cases_key(cases: list[tuple[VerdictRecord, bytes]]) -> str:
    """What the span's examples depend on: each image's digest, label and lesion id."""
    digest = hashlib.sha256()
    for verdict, jpeg in cases:
        digest.update(f"{verdict.sha256}\0{verdict.diagnosis.value}\0{verdict.lesion_id or ''}\0".encode())
        digest.update(hashlib.sha256(jpeg).digest())
    return digest.hexdigest()


def swap_link(spans_dir: Path, folder: Path) -> Path:
    """Points ``spans/reviewed`` at ``folder`` in one rename; removes the copies it pointed at before."""
    link = spans_dir / REVIEWED_SPAN
    if link.exists() and not link.is_symlink():
        raise SpanExportError(f"{link} is a folder, not the export's link: move it aside (e.g. to spans/reviewed-by-hand)")
    temporary = spans_dir / f".{REVIEWED_SPAN}-link-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(folder.name)
    os.replace(temporary, link)
    for old in spans_dir.glob(f".{REVIEWED_SPAN}-*"):
        if old.is_dir() and old.name != folder.name:
            shutil.rmtree(old, ignore_errors=True)
    return link


def export_reviewed_span(db: ReviewDatabase, data_root: Path, bases: Iterable[str], source_roots: Iterable[Path],
                         image_path: ImagePathSettings, data: DataConfig | None = None,
                         now: datetime | None = None) -> SpanExport:
    """Writes (or replaces) ``<data_root>/spans/reviewed`` from the current verdicts; see the module docstring."""
    data, data_root = data or DataConfig(), Path(data_root)
    if not data_root.is_dir():
        raise SpanExportError(f"data root {data_root} is not a folder")
    until = now or datetime.now(timezone.utc)
    bases, roots = sorted(str(b) for b in bases), [Path(r) for r in source_roots]
    verdicts = [v for _, v in sorted(current_verdicts(db, bases=bases).items()) if v.recorded_at < until]
    cases, unavailable = [], []
    for verdict in verdicts:
        image = case_image(db, verdict, roots, image_path)
        if isinstance(image, str):
            unavailable.append({"verdict_id": verdict.id, "sha256": verdict.sha256, "image_path": verdict.image_path,
                                "reason": image})
        else:
            cases.append((verdict, image))
    by_diagnosis: dict[str, int] = {}
    for verdict, _ in cases:
        by_diagnosis[verdict.diagnosis.value] = by_diagnosis.get(verdict.diagnosis.value, 0) + 1
    spans_dir = data_root / SPANS_DIR
    marker = {"kind": REVIEWED, "verdicts_until": until.isoformat(), "training_bases": bases, "images": len(cases),
              "by_diagnosis": dict(sorted(by_diagnosis.items())), "unavailable": unavailable, "cases_key": cases_key(cases)}
    result = SpanExport(spans_dir / REVIEWED_SPAN, len(cases), marker["by_diagnosis"], unavailable, marker["verdicts_until"])
    current, _ = read_marker(spans_dir / REVIEWED_SPAN)
    if current.get("cases_key") == marker["cases_key"]:
        write_text_atomically(spans_dir / REVIEWED_SPAN / SPAN_MARKER, json.dumps(marker, indent=1, sort_keys=True))
        result.changed = False
        return result
    if not cases and not current:
        result.changed = False
        return result
    spans_dir.mkdir(exist_ok=True)
    folder = spans_dir / f".{REVIEWED_SPAN}-{until.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}"
    write_span_folder(folder, cases, data, marker)
    swap_link(spans_dir, folder)
    return result
