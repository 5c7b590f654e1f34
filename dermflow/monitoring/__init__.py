"""Drift monitoring of scoring runs: each run's scored images and outputs against the model's baseline.

    drift_features     the monitored columns as TFDV sees them (numeric floats, categorical strings)
    drift_baseline     the held-out split through scoring's path, recorded in the export (assets.extra/drift_baseline.pq)
    drift_comparison   TFDV's comparators: Jensen-Shannon (numeric), L-infinity (categorical)
    run_drift          one run's check, its summary and its monitoring rows
    monitoring_reader  per-run rows for the web page, audit_share_for_run for the review queue (no TensorFlow)

The settings are ``cfg.drift`` (``dermflow/drift_settings.py``); the scoring launcher
(``dermflow.pipelines.scoring.run_monitoring``) and the scoring DAG (``dermflow.orchestration.drift_tasks``)
call it. Importing this package imports nothing heavy; TFDV loads when a comparison runs.
"""
