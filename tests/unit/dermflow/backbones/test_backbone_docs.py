"""Each declared backbone has its row in docs/models.md, with the Grad-CAM layer and smallest input of its declaration."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dermflow.backbones import BACKBONES

MODELS_DOC = Path(__file__).resolve().parents[4] / "docs" / "models.md"


def _backbone_rows() -> dict[str, list[str]]:
    rows = {}
    for line in MODELS_DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        found = re.match(r"`(\w+)`", cells[0]) if line.startswith("|") else None
        if found and found.group(1) in BACKBONES:
            rows[found.group(1)] = cells
    return rows


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_has_a_docs_row_that_matches_its_declaration(name):
    row = _backbone_rows().get(name)
    assert row is not None, f"docs/models.md has no table row for backbone {name}"
    spec = BACKBONES[name]
    assert row[-2] == f"`{spec.gradcam_layer}`" and row[-1] == str(spec.min_image_size), row


def test_the_docs_table_names_no_backbone_that_is_not_declared():
    text = MODELS_DOC.read_text(encoding="utf-8")
    table = text[text.index("| `model.backbone` |"):].split("\n\n", 1)[0]
    named = set(re.findall(r"^\| `(\w+)`", table, flags=re.M)) - {"model"}
    assert named == set(BACKBONES)
