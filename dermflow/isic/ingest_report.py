"""The ingest report: counts per class and split, and every reject with its reason.

Built after the Beam job from the archive plan and the small per-image outcomes the job wrote
(never from the images). ``check_accounting`` enforces the invariant: every file on disk is an
example or a listed reject.

    report = build_report(plan, outcomes, ["train", "eval"])
    write_report(report, out_dir)   # report.json + summary.txt
    report = merge_span_reports(parts, splits, removed, problems)   # a data root of several spans

With spans (docs/ingest.md#spans) each span has its own report (a reused span's is the one
recorded when it was ingested); the artifact's report adds them up and lists the spans: what was
done with each and why, the spans that dropped out, the spans left out with their problem.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable

from dermflow.isic.archive_pairing import ArchivePlan

REPORT_JSON = "report.json"
SUMMARY_TXT = "summary.txt"
OK, REJECTED = "ok", "rejected"


class AccountingError(RuntimeError):
    """Files on disk and examples + rejects disagree: a bug, never bad input."""


def build_report(plan: ArchivePlan, outcomes: Iterable[dict], split_names: list[str]) -> dict:
    """``outcomes``: one dict per decoded file, ``{"status": "ok", "split", "diagnosis", ...}`` or a reject dict."""
    counts = {split: Counter() for split in split_names}
    rejects = [r.to_dict() for r in plan.rejects]
    for outcome in outcomes:
        if outcome["status"] == OK:
            counts[outcome["split"]][outcome["diagnosis"]] += 1
        else:
            rejects.append({key: outcome[key] for key in ("file", "image_id", "reason", "message")})
    rejects.sort(key=lambda r: (r["reason"], r["file"] or "", r["image_id"] or ""))
    examples = sum(sum(c.values()) for c in counts.values())
    return {
        "split_names": list(split_names),
        "totals": {
            "files": plan.files,
            "csv_rows": plan.csv_rows,
            "examples": examples,
            "rejected_files": sum(r["file"] is not None for r in rejects),
            "rejected_rows_without_file": sum(r["file"] is None for r in rejects),
            "missing_images": plan.missing_images,
        },
        "counts": {split: dict(sorted(c.items())) for split, c in counts.items()},
        "class_totals": dict(sorted(sum(counts.values(), Counter()).items())),
        "rejects_by_reason": dict(sorted(Counter(r["reason"] for r in rejects).items())),
        "rejects": rejects,
    }


def check_accounting(report: dict) -> None:
    totals = report["totals"]
    if totals["files"] != totals["examples"] + totals["rejected_files"]:
        raise AccountingError(
            f"{totals['files']} files on disk but {totals['examples']} examples + {totals['rejected_files']} rejected files"
        )


def merge_span_reports(parts: list[dict], split_names: list[str], removed: list[dict], problems: list[str]) -> dict:
    """``parts``: {"name", "kind", "action", "reason", "report"} per span, in ingest order; ``removed``:
    {"name", "examples"} of the spans no longer in the data root; ``problems``: one line per span left out."""
    counts = {split: Counter() for split in split_names}
    totals, rejects = Counter(), []
    for part in parts:
        report = part["report"]
        totals.update(report["totals"])
        for split, by_class in report["counts"].items():
            counts.setdefault(split, Counter()).update(by_class)
        rejects += [{**reject, "span": part["name"]} for reject in report["rejects"]]
    rejects.sort(key=lambda r: (r["reason"], r["span"], r["file"] or "", r["image_id"] or ""))
    return {
        "split_names": list(split_names),
        "totals": {key: totals.get(key, 0) for key in
                   ("files", "csv_rows", "examples", "rejected_files", "rejected_rows_without_file", "missing_images")},
        "counts": {split: dict(sorted(c.items())) for split, c in counts.items()},
        "class_totals": dict(sorted(sum(counts.values(), Counter()).items())),
        "rejects_by_reason": dict(sorted(Counter(r["reason"] for r in rejects).items())),
        "rejects": rejects,
        "spans": [{"name": p["name"], "kind": p["kind"], "action": p["action"], "reason": p["reason"],
                   "examples": p["report"]["totals"]["examples"], "files": p["report"]["totals"]["files"],
                   "duplicates": p["report"]["rejects_by_reason"].get("duplicate_image", 0)} for p in parts],
        "spans_removed": list(removed),
        "span_problems": list(problems),
    }


def span_lines(report: dict) -> list[str]:
    """What happened to each span, for people; nothing when the data root is the base archive alone."""
    spans = report.get("spans") or []
    if len(spans) <= 1 and not report.get("spans_removed") and not report.get("span_problems"):
        return []
    lines = ["Spans:"]
    for span in spans:
        done = "reused" if span["action"] == "reuse" else "ingested"
        duplicates = f", {span['duplicates']} duplicate(s) of earlier spans" if span["duplicates"] else ""
        lines.append(f"  {span['name']} ({span['kind']}): {done}, {span['examples']} examples of {span['files']} files"
                     f"{duplicates} ({span['reason']})")
    lines += [f"  {r['name']}: no longer in the data root, its {r['examples']} examples drop out"
              for r in report.get("spans_removed") or []]
    lines += [f"  left out: {problem}" for problem in report.get("span_problems") or []]
    return lines


def summary_text(report: dict) -> str:
    totals = report["totals"]
    lines = [
        f"Ingested {totals['examples']} of {totals['files']} image files ({totals['csv_rows']} CSV rows).",
        *span_lines(report),
        "Examples per split: " + ", ".join(f"{s} {sum(c.values())}" for s, c in report["counts"].items()),
        "Examples per class: " + ", ".join(f"{k} {v}" for k, v in report["class_totals"].items()),
    ]
    if report["rejects"]:
        lines.append("Rejects: " + ", ".join(f"{k} {v}" for k, v in report["rejects_by_reason"].items()))
        lines += [f"  {r['reason']}: {r['file'] or r['image_id']} ({r['message']})" for r in report["rejects"][:20]]
        if len(report["rejects"]) > 20:
            lines.append(f"  ... and {len(report['rejects']) - 20} more in {REPORT_JSON}")
    else:
        lines.append("Rejects: none")
    return "\n".join(lines) + "\n"


def write_report(report: dict, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / REPORT_JSON).write_text(json.dumps(report, indent=1), encoding="utf-8")
    (out_dir / SUMMARY_TXT).write_text(summary_text(report), encoding="utf-8")


def read_report(in_dir: Path) -> dict:
    return json.loads((Path(in_dir) / REPORT_JSON).read_text(encoding="utf-8"))
