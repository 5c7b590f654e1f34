"""Schemas of the data between stages (installed as ``dermflow.schemas``)."""
from pathlib import Path

SCHEMAS_DIR = Path(__file__).resolve().parent
# TFDV schema of IsicExampleGen's output (no label yet).
INGESTED_EXAMPLES_SCHEMA = SCHEMAS_DIR / "ingested_examples.pbtxt"
# TFDV schema of ClassFilter's output: the ingest features + label, label_name. Import it with ImportSchemaGen.
TRAINING_EXAMPLES_SCHEMA = SCHEMAS_DIR / "training_examples.pbtxt"
