"""The ISIC 2019 archive as input: CSVs, pairing files with rows, lesion-grouped splits, labels, ingest report.

    csv_reader          the ground-truth and metadata CSVs (CRLF, BOM, _downsampled ids)
    archive_pairing     files on disk <-> CSV rows, before anything is decoded
    lesion_split        train/eval/test grouped by lesion, stratified by class
    label_vocabulary    target labels and the ISIC code -> label map
    out_of_scope_examples  where ClassFilter keeps the non-target diagnoses (beside the splits)
    ingest_report       counts per class and split, and every reject with its reason
"""
