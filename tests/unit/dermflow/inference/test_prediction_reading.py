"""A prediction said for people: out of scope names no class; the prediction set decides the headline."""
from __future__ import annotations

from dermflow.inference.prediction_reading import ATTENTION_OFF_LESION, NO_LESION_OUTLINE, ModelFacts, read_prediction, read_row

FACTS = ModelFacts(["MEL", "NV", "BCC"], {"MEL": "melanoma", "NV": "melanocytic nevus", "BCC": "basal cell carcinoma"},
                   coverage=0.9, trust_fitted=True)
PROBABILITIES = {"MEL": 0.99999, "NV": 0.00001, "BCC": 0.0}


def test_an_out_of_scope_image_is_headlined_as_such_and_names_no_class():
    reading = read_prediction(FACTS, PROBABILITIES, out_of_scope=True, in_scope_score=0.045, prediction_set=["MEL"])
    assert reading.kind == "out_of_scope" and reading.headline == "Outside what this model knows"
    assert reading.answer is None and reading.probabilities_secondary
    assert "melanoma (MEL)" not in reading.headline and "melanoma (MEL)" in reading.detail  # listed as a class it knows
    assert [line.text for line in reading.probabilities] == [">99 %", "<1 %", "0 %"]
    assert reading.in_scope.startswith("Less usual than 96 % of the held-out images")
    assert reading.prediction_set is None  # no class is the answer: no set is said either
    assert "melanoma (MEL), melanocytic nevus (NV) and basal cell carcinoma (BCC)" in reading.detail


def test_one_label_is_the_answer_with_its_full_name():
    reading = read_prediction(FACTS, PROBABILITIES, out_of_scope=False, in_scope_score=0.7, prediction_set=["MEL"])
    assert reading.kind == "one_label" and reading.answer == "MEL"
    assert reading.headline == "Most likely melanoma (MEL), >99 %" and not reading.probabilities_secondary
    assert "100.0" not in reading.headline


def test_several_or_no_labels_are_uncertain():
    several = read_prediction(FACTS, [0.5, 0.4, 0.1], out_of_scope=False, in_scope_score=0.7, prediction_set=["MEL", "NV"])
    assert several.kind == "several_labels" and several.answer is None
    assert several.headline == "Uncertain between melanoma (MEL) and melanocytic nevus (NV)"
    empty = read_prediction(FACTS, [0.4, 0.3, 0.3], out_of_scope=False, in_scope_score=0.7, prediction_set=[])
    assert empty.kind == "no_label" and empty.answer is None and "empty" in empty.prediction_set


def test_a_model_without_fitted_trust_says_so():
    facts = ModelFacts(["MEL", "NV", "BCC"], trust_fitted=False)
    reading = read_prediction(facts, [0.2, 0.7, 0.1], out_of_scope=False, in_scope_score=1.0, prediction_set=["MEL", "NV", "BCC"])
    assert reading.kind == "no_trust" and reading.answer == "NV"
    assert reading.headline == "Most likely melanocytic nevus (NV), 70 %" and "no fitted trust outputs" in reading.detail


def test_a_row_says_why_it_is_out_of_scope_and_where_the_gradcam_lies():
    row = {"probabilities": PROBABILITIES, "out_of_scope": True, "in_scope_score": 0.01, "prediction_set": ["MEL"],
           "out_of_scope_reason": "novel", "gradcam_in_lesion": 0.18, "attention_off_lesion": True}
    reading = read_row(FACTS, row)
    assert reading.detail.startswith("Looks unlike anything the model knows. This image looks like none")
    assert reading.attention == "Grad-CAM on the lesion: 18 %" and reading.attention_warning == ATTENTION_OFF_LESION
    on_lesion = read_row(FACTS, {**row, "out_of_scope": False, "gradcam_in_lesion": 0.72, "attention_off_lesion": False})
    assert on_lesion.attention == "Grad-CAM on the lesion: 72 %" and on_lesion.attention_warning is None
    no_mask = read_row(FACTS, {**row, "gradcam_in_lesion": None, "attention_off_lesion": None})
    assert no_mask.attention == NO_LESION_OUTLINE and no_mask.attention_warning is None
    older = read_row(FACTS, {"probabilities": PROBABILITIES, "out_of_scope": False, "prediction_set": ["MEL"]})
    assert older.attention is None and older.attention_warning is None  # a file from before the attention fields
