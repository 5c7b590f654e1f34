import pytest

from dermflow.isic.out_of_scope_examples import is_out_of_scope_diagnosis, out_of_scope_patterns, out_of_scope_split_uri

TARGETS = {"MEL": "MEL", "NV": "NV", "BCC": "BCC"}


def test_only_real_non_target_diagnoses_are_out_of_scope():
    assert is_out_of_scope_diagnosis("BKL", TARGETS) and is_out_of_scope_diagnosis("SCC", TARGETS)
    assert not is_out_of_scope_diagnosis("MEL", TARGETS)
    assert not is_out_of_scope_diagnosis("UNK", TARGETS) and not is_out_of_scope_diagnosis("", TARGETS)


def test_the_out_of_scope_folder_sits_beside_the_split_folders():
    assert out_of_scope_split_uri("/a/filtered_examples/7/", "test") == "/a/filtered_examples/7/OutOfScope/Split-test"
    assert out_of_scope_patterns(["/a/7/Split-eval/*"]) == ["/a/7/OutOfScope/Split-eval/*"]
    with pytest.raises(ValueError):
        out_of_scope_patterns(["/a/7/eval/*"])
