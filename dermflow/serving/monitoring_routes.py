"""The monitoring view: each scoring run's drift check and out-of-scope rate, over time (docs/scoring.md, "Monitoring").

    app.include_router(monitoring_routes.router)      # GET /monitoring (page), GET /api/v1/monitoring (JSON)

Read from every results folder's ``monitoring/`` tables (``dermflow.monitoring.monitoring_reader``); a
folder whose runs were never checked shows that, never an error. A run whose drift check found drift is
marked, with the features that moved and the larger random-audit share the review queue gives it.
"""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from dermflow.serving.serving_context import context_of, page_values

router = APIRouter()
PLOT_WIDTH, PLOT_HEIGHT, PLOT_MARGIN = 640, 160, 30


def monitored_runs(roots) -> list[dict]:
    """Every checked run of every results folder, oldest first, each with its folder and drifted features."""
    from dermflow.monitoring.monitoring_reader import monitoring_runs, run_drift_features

    runs = []
    for root in roots:
        for row in monitoring_runs(root):
            features = run_drift_features(root, row["run_id"]) if row.get("drift_detected") else []
            runs.append({**row, "results": str(root), "features": [f for f in features if f["drifted"]]})
    return sorted(runs, key=lambda row: row.get("checked_at") or datetime.min)


def rate_plot(runs: list[dict]) -> dict:
    """SVG coordinates of the out-of-scope rate per checked run (a polyline) and the drifted runs (points)."""
    rated = [row for row in runs if row.get("out_of_scope_rate") is not None]
    if not rated:
        return {"points": "", "dots": [], "top": 0.0}
    top = max(0.05, max(float(row["out_of_scope_rate"]) for row in rated) * 1.2)
    step = (PLOT_WIDTH - 2 * PLOT_MARGIN) / max(1, len(rated) - 1)
    xy = [(PLOT_MARGIN + i * step, PLOT_HEIGHT - PLOT_MARGIN - float(row["out_of_scope_rate"]) / top * (PLOT_HEIGHT - 2 * PLOT_MARGIN))
          for i, row in enumerate(rated)]
    return {"points": " ".join(f"{x:.1f},{y:.1f}" for x, y in xy), "top": top,
            "dots": [{"x": round(x, 1), "y": round(y, 1), "drift": bool(row.get("drift_detected")), "run_id": row["run_id"]}
                     for (x, y), row in zip(xy, rated)]}


@router.get("/monitoring", response_class=HTMLResponse, include_in_schema=False)
async def monitoring_page(request: Request):
    context = context_of(request)
    runs = await run_in_threadpool(monitored_runs, context.store.roots)
    return context.templates.TemplateResponse(request, "monitoring.html", {
        **page_values(request), "runs": list(reversed(runs)), "plot": rate_plot(runs), "width": PLOT_WIDTH,
        "height": PLOT_HEIGHT, "margin": PLOT_MARGIN, "has_results": context.has_results,
    })


@router.get("/api/v1/monitoring", tags=["api"])
async def monitoring_api(request: Request) -> dict:
    """Every checked scoring run, newest first: drift verdict, drifted features, out-of-scope rate, audit share."""
    runs = await run_in_threadpool(monitored_runs, context_of(request).store.roots)
    keep = ("run_id", "model_version", "checked_at", "status", "drift_detected", "scored", "out_of_scope_rate",
            "baseline_out_of_scope_rate", "audit_share", "note")
    return {"runs": [{**{k: row.get(k) for k in keep}, "drifted_features": [f["feature"] for f in row["features"]]}
                     for row in reversed(runs)]}
