"""Each pushed version's balanced accuracy on the split it was judged on, with its 95 % interval, over time.

    rows = version_history(resolve_model("var/registry"))    # this version and every earlier one
    plot_version_history(rows, Path("out/versions.png"))

A version's figure is its ``metrics.json``: the overall ISIC balanced accuracy and, for the
interval, the confusion matrix's per-class hits and totals (``dermflow.trust.mean_of_shares_interval``:
a normal interval over the per-class binomials). Since continuous training (issue 27) the split is the
fixed test split, so successive versions are measured on the same images; a version judged on
another split (``metrics.json["split"]``, ``eval`` before the test split was fixed) is drawn hollow,
and each point is labelled with its image count, which changes when the images do.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dermflow.registry import RegisteredModel, list_versions  # noqa: E402
from dermflow.trust.binomial_interval import mean_of_shares_interval  # noqa: E402

FIXED_SPLIT = "test"


def version_time(version: str) -> datetime | None:
    try:
        return datetime.strptime(version, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def version_row(registered: RegisteredModel) -> dict | None:
    """{version, time, split, images, balanced_accuracy, low, high} of one version; None without the figures."""
    metrics = registered.read_json("metrics.json")
    accuracy = (metrics.get("overall") or {}).get("isic_balanced_accuracy")
    matrix = (metrics.get("confusion_matrix") or {}).get("rows_true_columns_predicted")
    when = version_time(registered.version)
    if accuracy is None or not matrix or when is None:
        return None
    hits = [int(round(row[index])) for index, row in enumerate(matrix)]
    totals = [int(round(sum(row))) for row in matrix]
    low, high = mean_of_shares_interval(hits, totals)
    return {"version": registered.version, "time": when, "split": metrics.get("split", "eval"), "images": sum(totals),
            "balanced_accuracy": float(accuracy), "low": low, "high": high}


def version_history(registered: RegisteredModel) -> list[dict]:
    """The rows of ``registered`` and of every earlier version of its model in the same registry, oldest first."""
    registry = registered.path.parent.parent
    rows = []
    for version in list_versions(registry, registered.name):
        if version > registered.version:  # versions are UTC timestamps: they sort by time
            continue
        row = version_row(RegisteredModel(registered.name, version, registry / registered.name / version))
        if row is not None:
            rows.append(row)
    return rows


def plot_version_history(rows: list[dict], path: Path) -> Path | None:
    """Balanced accuracy with its interval per version over time; None when there is nothing to draw."""
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    times = [row["time"] for row in rows]
    ax.plot(times, [row["balanced_accuracy"] for row in rows], color="grey", linewidth=1, zorder=1)
    for row in rows:
        fixed = row["split"] == FIXED_SPLIT
        ax.errorbar([row["time"]], [row["balanced_accuracy"]],
                    yerr=[[row["balanced_accuracy"] - row["low"]], [row["high"] - row["balanced_accuracy"]]],
                    fmt="o", capsize=4, color="tab:blue", markerfacecolor="tab:blue" if fixed else "white", zorder=2)
        ax.annotate(f"{row['images']}", (row["time"], row["high"]), textcoords="offset points", xytext=(0, 4),
                    ha="center", fontsize=8, color="grey")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("ISIC balanced accuracy (95 % interval)")
    ax.set_xlabel("version (UTC); filled: the fixed test split, hollow: another split; numbers: images")
    ax.set_title(f"Balanced accuracy per version, {len(rows)} version(s)")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
