"""Numbers and trust outputs said for people."""
from __future__ import annotations

import pytest

from dermflow.trust.plain_words import TRUST_MEANINGS, in_scope_sentence, people_percent, prediction_set_sentence


@pytest.mark.parametrize("p, text", [
    (0.99999, ">99 %"), (0.995, ">99 %"), (0.994, "99 %"), (1.0, "100 %"), (0.0, "0 %"), (0.004, "<1 %"),
    (0.005, "1 %"), (0.425, "43 %"), (0.5, "50 %"), (None, "n/a"), (float("nan"), "n/a"),
])
def test_people_percent_never_rounds_to_certainty(p, text):
    assert people_percent(p) == text


def test_the_in_scope_score_is_a_share_of_the_images_the_model_knows():
    assert in_scope_sentence(0.04545454680919647, True).startswith("Less usual than 95 % of the held-out images")
    assert "none of them" in in_scope_sentence(0.04545, True)
    assert "within what it knows" in in_scope_sentence(0.3, False)
    assert in_scope_sentence(0.8, False).startswith("Typical")
    assert in_scope_sentence(None, None) is None


def test_the_prediction_set_in_words():
    one = prediction_set_sentence(["MEL"], 0.9, shown=lambda label: f"<{label}>")
    assert "<MEL> alone" in one and "90 %" in one
    several = prediction_set_sentence(["MEL", "NV", "BCC"], 0.9)
    assert "MEL, NV and BCC" in several and "cannot tell them apart" in several
    empty = prediction_set_sentence([], 0.9)
    assert "empty" in empty and "cannot name any" in empty
    assert "not recorded" in prediction_set_sentence(["MEL"], None)
    assert prediction_set_sentence(None, 0.9) is None


def test_every_report_figure_has_one_sentence():
    for key in ("balanced_accuracy", "sensitivity", "auc", "ece", "coverage"):
        assert TRUST_MEANINGS[key].endswith(".") and TRUST_MEANINGS[key].count(". ") <= 1
