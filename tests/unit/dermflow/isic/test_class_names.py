"""The one ISIC code -> name table, and what an exported model's labels.json records from it."""
from __future__ import annotations

from dermflow.config import ISIC_CLASSES
from dermflow.isic.class_names import ISIC_CLASS_NAMES, label_document, label_names, shown


def test_every_isic_code_has_a_name():
    assert list(ISIC_CLASS_NAMES) == list(ISIC_CLASSES)
    assert ISIC_CLASS_NAMES["MEL"] == "melanoma" and ISIC_CLASS_NAMES["BCC"] == "basal cell carcinoma"


def test_a_label_is_shown_with_its_code_beside_its_name():
    assert shown("NV") == "melanocytic nevus (NV)"
    assert shown("odd") == "odd"
    names = label_names(["malignant", "benign"], {"malignant": ["MEL", "BCC"], "benign": ["NV"]})
    assert names["malignant"] == "malignant: melanoma, basal cell carcinoma"
    assert shown("malignant", names) == "malignant: melanoma, basal cell carcinoma (malignant)"


def test_the_label_document_keeps_index_order_names_and_codes():
    document = label_document(["MEL", "NV", "BCC"])
    assert document["labels"] == ["MEL", "NV", "BCC"]
    assert document["names"] == {"MEL": "melanoma", "NV": "melanocytic nevus", "BCC": "basal cell carcinoma"}
    assert document["codes"] == {"MEL": ["MEL"], "NV": ["NV"], "BCC": ["BCC"]}
