"""The ingest report: counts per class and split, and every reject with its reason.

Built after the Beam job from the archive plan and the small per-image outcomes the job wrote
(never from the images). ``check_accounting`` enforces the invariant: every file on disk is an
example or a listed reject.

    report = build_report(plan, outcomes, ["train", "eval"])
    write_report(report, out_dir)   # report.json + summary.txt
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


def summary_text(report: dict) -> str:
    totals = report["totals"]
    lines = [
        f"Ingested {totals['examples']} of {totals['files']} image files ({totals['csv_rows']} CSV rows).",
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
