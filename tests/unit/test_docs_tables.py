"""The reference tables in docs/ are the code's: the Parquet columns, the reject reasons, every config key."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from dermflow.config import DermflowConfig
from dermflow.imaging.rejection import REASON_DETAILS, RejectReason

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "docs_tables.py"


def _docs_tables():
    spec = importlib.util.spec_from_file_location("docs_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_table_in_docs_matches_the_code():
    assert _docs_tables().stale_blocks() == [], "run `make docs-tables` and commit docs/"


def test_every_kind_of_table_appears_in_docs():
    module = _docs_tables()
    assert module.generated_names() == set(module.TABLES)


def test_a_changed_description_makes_its_block_stale():
    module = _docs_tables()
    text = (module.DOCS / "scoring.md").read_text(encoding="utf-8")
    assert module.regenerate(text.replace("Hex sha256 of the file's bytes", "Something else")) == text


def test_every_reject_reason_and_every_config_key_is_described():
    assert set(REASON_DETAILS) == set(RejectReason)
    assert all(details.meaning and details.stages for details in REASON_DETAILS.values())
    undescribed = [f"{section}.{key}" for section, field in DermflowConfig.model_fields.items()
                   for key, sub in getattr(field.annotation, "model_fields", {}).items() if not sub.description]
    assert undescribed == []
