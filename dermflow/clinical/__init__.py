"""Results back into the hospital's systems: DICOM SR and segmentation, DICOMweb, FHIR (docs/scoring.md#clinical-results).

    clinical_uids         deterministic UIDs of results (2.25.<hash of source UID + model version>), hashed names
    snomed_codes          the SNOMED CT mapping of the labels and the DICOM concepts the results use
    model_finding         ModelFinding: a predictions row as the writers read it
    sr_writer             Comprehensive SR, TID 1500 Measurement Report (highdicom); amended SR with a verdict
    segmentation_writer   Grad-CAM as a fractional Segmentation on the source's pixel grid (highdicom)
    fhir_writer           FHIR R4B DiagnosticReport + Observations + Device, validated by fhir.resources
    fhir_ndjson           a run's FHIR as Bulk Data NDJSON (shards merged at the end)
    clinical_files        score.clinical_results_dir: owner-only, never inside --output, hashed file names
    dicomweb_credentials  DICOMweb auth from the environment or an Airflow connection, never the config
    dicomweb_source       dicomweb:// inputs: QIDO-RS listing, WADO-RS reads, one instance at a time
    dicomweb_store        STOW-RS with retries and backoff; the one-line endpoint check
    result_export         one image end to end: re-read the source, build, write, store, account

No Beam graph and no TensorFlow here (only Beam's FileSystems, to read files): ``dermflow.pipelines.scoring.clinical_export_dofn``
wires this into the job.
"""
