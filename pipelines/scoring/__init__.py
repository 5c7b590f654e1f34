"""The Beam scoring job's parts, one role per module; ``dermflow.pipelines.scoring_pipeline`` wires them.

    input_listing           folders / globs -> the sorted list of files given (relative paths)
    scored_index            sha256 already scored by a model version (what a re-run skips)
    image_preparation_dofn  read, hash, skip, prepare as ingest did (dermflow.imaging.model_input); rejects tagged
    gradcam_model_handler   RunInference ModelHandler: a thin adapter over dermflow.inference's LesionPredictor
    score_rows              inference results -> Parquet rows (predictions, errors); heatmap PNG
    staged_output           Beam writes under _staging/<run_id>/; publishing renames into the dataset
    job_progress            files done, per worker, in _staging/<run_id>/progress/; the launcher's progress lines
    run_reports             ISIC challenge CSV and the HTML gallery, from the published dataset
"""
