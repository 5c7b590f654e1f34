"""What a run hands to people, read back from the published predictions of its model version:
the ISIC challenge CSV and an HTML gallery of the most suspicious images.

Both cover the run's files given that are scored by this model version, whether scored now or
by an earlier run (a re-run that skips everything still reports on everything).
"""
from __future__ import annotations

import base64
import csv
import html
import io
import posixpath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems

from dermflow.config import ISIC_CLASSES
from dermflow.imaging import ImageRejected, decode_image, resize_max_side
from dermflow.inference.heatmap_overlay import overlay_png
from dermflow.inference.prediction_reading import ModelFacts, read_row
from dermflow.trust.plain_words import people_percent
from dermflow.pipelines.scoring.input_listing import read_input_bytes
from dermflow.pipelines.scoring.scored_index import model_version_dir

_ATTENTION_COLUMNS = ("out_of_scope_reason", "gradcam_in_lesion", "attention_off_lesion")  # schema 3 on
_COLUMNS = ["path", "predicted_label", "probabilities", "in_scope_score", "out_of_scope", "prediction_set",
            *_ATTENTION_COLUMNS, "scored_at"]
_OPTIONAL_COLUMNS = frozenset({"in_scope_score", "out_of_scope", "prediction_set", *_ATTENTION_COLUMNS})  # absent from older files
_HEATMAP_COLUMNS = ["path", "gradcam", "gradcam_shape", "scored_at"]
GALLERY_IMAGE_SIDE = 256


def _latest_per_path(predictions_dir: str, model_version: str, paths: set[str], columns: list[str]) -> pa.Table:
    folder = model_version_dir(predictions_dir, model_version)
    files = [m.path for m in FileSystems.match([FileSystems.join(folder, "**.parquet")])[0].metadata_list]
    if not files:
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    dataset = ds.dataset(files, format="parquet")
    columns = [c for c in columns if c not in _OPTIONAL_COLUMNS or c in dataset.schema.names]
    table = dataset.to_table(
        columns=columns, filter=pc.field("path").isin(pa.array(sorted(paths), pa.string()))
    )
    table = table.sort_by([("path", "ascending"), ("scored_at", "descending")])
    names = table.column("path").to_pylist()
    keep = [i for i, path in enumerate(names) if i == 0 or names[i - 1] != path]
    return table.take(pa.array(keep, pa.int64()))


def read_scored_rows(predictions_dir: str, model_version: str, relative_paths: set[str]) -> pa.Table:
    """path, predicted_label, probabilities: the latest row per path among ``relative_paths``, sorted by path.

    The heatmaps are left out (the launcher's memory stays small however large the run):
    :func:`with_heatmaps` fetches them for the few gallery rows.
    """
    return _latest_per_path(predictions_dir, model_version, relative_paths, _COLUMNS)


def with_heatmaps(records: list[dict], predictions_dir: str, model_version: str) -> list[dict]:
    table = _latest_per_path(predictions_dir, model_version, {r["path"] for r in records}, _HEATMAP_COLUMNS)
    heatmaps = {row["path"]: row for row in table.to_pylist()}
    return [{**record, "gradcam": heatmaps[record["path"]]["gradcam"],
             "gradcam_shape": heatmaps[record["path"]]["gradcam_shape"]} for record in records]


def code_columns(labels: list[str], groups: dict[str, list[str]]) -> dict[str, str]:
    """ISIC code -> the model label whose probability fills that CSV column.

    A label that is an ISIC code fills its own column. A grouped label (e.g. ``malignant``:
    MEL, BCC, SCC, AK) fills the column of every code in its group with the group's
    probability, so each column still ranks images for that code. Other codes get 0.0.
    """
    mapping = {label: label for label in labels if label in ISIC_CLASSES}
    for label in labels:
        for code in groups.get(label, []):
            mapping.setdefault(code, label)
    return mapping


def isic_csv_text(rows: pa.Table, labels: list[str], groups: dict[str, list[str]]) -> str:
    """``image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK`` with image = file name without extension.

    ``UNK`` holds 1 - ``in_scope_score``, the out-of-scope decision's score: how strongly the image
    looks like none of *this model's* classes, because it looks like another diagnosis (the abstention
    outputs) or unlike anything the model knows (the feature distance). ISIC's own UNK means "none of
    the eight diagnoses", so the two agree only for an 8-class model (docs/trust.md). Rows without an
    in-scope score (older models) get 0.0 there.
    """
    mapping = code_columns(labels, groups)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", *ISIC_CLASSES])
    paths = rows.column("path").to_pylist()
    in_scope = rows.column("in_scope_score").to_pylist() if "in_scope_score" in rows.column_names else [None] * len(paths)
    for path, probabilities, score in zip(paths, rows.column("probabilities").to_pylist(), in_scope):
        by_label = dict(probabilities)
        stem = posixpath.splitext(posixpath.basename(path))[0]
        values = [_format(by_label.get(mapping[code], 0.0)) if code in mapping else "0.0" for code in ISIC_CLASSES]
        if "UNK" not in mapping and score is not None:
            values[ISIC_CLASSES.index("UNK")] = _format(1.0 - float(score))
        writer.writerow([stem, *values])
    return buffer.getvalue()


def _format(probability: float) -> str:
    return f"{probability:.6f}"


def positive_label(labels: list[str], wanted: str) -> str:
    return wanted if wanted in labels else labels[0]


def top_rows(rows: pa.Table, label: str, count: int) -> list[dict]:
    """The ``count`` rows with the highest probability of ``label``, highest first (ties: by path)."""
    columns = [c for c in ("path", "predicted_label", "probabilities", "in_scope_score", "out_of_scope", "prediction_set")
               if c in rows.column_names]
    records = rows.select(columns).to_pylist()
    for record in records:
        record["score"] = dict(record["probabilities"]).get(label, 0.0)
    records.sort(key=lambda r: (-r["score"], r["path"]))
    return records[:count]


_GALLERY_STYLE = (
    "body{font-family:sans-serif;margin:1em;color:#1d2733}main{display:flex;flex-wrap:wrap;gap:14px}"
    "figure{margin:0;width:270px;border:1px solid #d5dbe3;padding:6px}img{width:256px;height:auto;border:1px solid #ccc}"
    ".missing{width:256px;height:64px;background:#eee}figcaption{font-size:12px}.path{word-break:break-all;color:#3d4a5a}"
    ".headline{font-weight:600;font-size:13px;margin:4px 0;padding:2px 6px;border-left:4px solid #1d3557;background:#f3f6fa}"
    ".headline.out_of_scope{border-color:#6c757d;background:#eceff2}"
    ".headline.several_labels,.headline.no_label{border-color:#d39e00;background:#fff8e6}"
    "details{color:#5a6776}ul{margin:2px 0;padding-left:16px}"
    ".attention{font-size:12px;font-weight:600;margin:4px 0;padding:2px 6px;border-left:4px solid #d39e00;background:#fff8e6}"
)


def _card(rank: int, record: dict, label: str, facts: ModelFacts, image: str | None) -> str:
    reading = read_row(facts, {**record, "probabilities": dict(record["probabilities"])})
    picture = f'<img src="{image}" alt="Grad-CAM overlay">' if image else '<div class="missing">image not readable</div>'
    probabilities = "".join(f"<li>{html.escape(line.name)}: {html.escape(line.text)}</li>" for line in reading.probabilities)
    words = "".join(f"<li>{html.escape(text)}</li>" for text in (reading.prediction_set, reading.in_scope, reading.attention)
                    if text)
    warning = f'<div class="attention">{html.escape(reading.attention_warning)}</div>' if reading.attention_warning else ""
    ranked_by = f"ranked by the probability of {html.escape(facts.shown(label))}: {people_percent(record['score'])}"
    listing = (f"<details><summary>probabilities (not an answer)</summary><ul>{probabilities}</ul></details>"
               if reading.probabilities_secondary else f"<ul>{probabilities}</ul>")
    return (f'<figure>{picture}<figcaption><b>#{rank}</b> <span class="path">{html.escape(record["path"])}</span>'
            f'<div class="headline {reading.kind}">{html.escape(reading.headline)}</div>{warning}'
            f"{f'<ul>{words}</ul>' if words else ''}{listing}<div>{ranked_by}</div></figcaption></figure>")


def gallery_html(records: list[dict], label: str, title: str, source_paths: dict[str, str], max_pixels: int,
                 facts: ModelFacts | None = None, dicomweb_conn_id: str | None = None,
                 report_link: str | None = None) -> str:
    """A self-contained page: each card inlines the heatmap-over-image PNG as base64, and says the answer in words
    (an image outside the model's classes is headlined so, its probabilities folded away)."""
    facts = facts or ModelFacts(sorted({key for r in records for key in dict(r["probabilities"])}))
    cards = [_card(rank, record, label, facts, _overlay_data_uri(record, source_paths.get(record["path"]), max_pixels,
                                                                   dicomweb_conn_id))
             for rank, record in enumerate(records, start=1)]
    body = "\n".join(cards) if cards else "<p>No scored images.</p>"
    report = (f'<p>How good is this model? <a href="{html.escape(report_link)}">Its report</a>: each figure with its split, '
              "n and interval.</p>") if report_link else ""
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_GALLERY_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        "<p><b>Research use only. This is not a diagnosis; a clinician must read every image.</b></p>"
        f"{report}<main>\n{body}\n</main></body></html>\n"
    )


def _overlay_data_uri(record: dict, source: str | None, max_pixels: int, dicomweb_conn_id: str | None = None) -> str | None:
    if source is None:
        return None
    try:
        pixels = decode_image(read_input_bytes(source, dicomweb_conn_id), max_pixels=max_pixels).pixels
    except (OSError, ValueError, ImageRejected):
        return None
    heatmap = np.asarray(record["gradcam"], np.float32).reshape(record["gradcam_shape"])
    png = overlay_png(resize_max_side(pixels, GALLERY_IMAGE_SIDE), heatmap)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
