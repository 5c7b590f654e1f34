from __future__ import annotations

import pytest
from review_cases import V1, V2, record_cases
from review_workload import PASSWORD, image_sha256, shown

from dermflow.review import add_user, record_verdict, reviewed_performance
from dermflow.trust.binomial_interval import wilson_interval


@pytest.fixture
def figures(fresh_db):
    add_user(fresh_db, "rev", "reviewer", PASSWORD)
    record_cases(fresh_db, "rev")
    return {(f.model_version, f.group): f for f in reviewed_performance(fresh_db)}


def test_each_version_is_measured_on_its_own_prediction_against_the_current_verdict(figures):
    assert list(figures) == [(V1, "all"), (V1, "queue"), (V1, "random_audit"), (V1, "other"), (V2, "all"), (V2, "queue")]
    v1 = figures[(V1, "all")]
    assert (v1.n, v1.n_scored, v1.labels) == (7, 5, ("MEL", "NV", "BCC"))
    assert v1.confusion == {"AK": {"BCC": 1}, "BCC": {"BCC": 1}, "MEL": {"MEL": 1, "NV": 1}, "NV": {"MEL": 1, "NV": 1},
                            "OTHER": {"BCC": 1}}
    assert {label: (s.successes, s.n) for label, s in v1.sensitivity.items()} == {"MEL": (1, 2), "NV": (1, 2), "BCC": (1, 1)}
    assert v1.balanced_accuracy == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    low, high = v1.balanced_accuracy_interval
    assert 0.0 <= low < v1.balanced_accuracy < high <= 1.0
    assert (v1.sensitivity["MEL"].low, v1.sensitivity["MEL"].high) == wilson_interval(1, 2)
    v2 = figures[(V2, "all")]
    assert (v2.n, v2.confusion, v2.balanced_accuracy) == (1, {"MEL": {"NV": 1}}, 0.0)


def test_the_random_audit_is_reported_apart_from_the_queue(figures):
    queue, audit, other = figures[(V1, "queue")], figures[(V1, "random_audit")], figures[(V1, "other")]
    assert (queue.n, queue.balanced_accuracy) == (3, pytest.approx(2 / 3))
    assert (audit.n, audit.balanced_accuracy) == (2, 0.5)
    assert audit.confusion == {"MEL": {"NV": 1}, "NV": {"NV": 1}}
    assert (other.n, other.n_scored, other.balanced_accuracy, other.balanced_accuracy_interval) == (2, 0, None, None)
    assert figures[(V1, "all")].as_dict()["sensitivity"]["MEL"]["value"] == 0.5


def test_a_model_with_grouped_labels_maps_the_diagnosis_first(fresh_db):
    add_user(fresh_db, "rev", "reviewer", PASSWORD)
    binary = ("malignant", "benign")
    for image, predicted, diagnosis in (("a", "malignant", "MEL"), ("b", "benign", "BCC"), ("c", "benign", "NV")):
        record_verdict(fresh_db, reviewer="rev", sha256=image_sha256(image), diagnosis=diagnosis, basis="consensus",
                       shown=shown("vb", predicted, labels=binary))
    mapping = {"MEL": "malignant", "BCC": "malignant", "NV": "benign"}
    [grouped, _] = reviewed_performance(fresh_db, label_maps={"vb": mapping})
    assert grouped.confusion == {"benign": {"benign": 1}, "malignant": {"malignant": 1, "benign": 1}}
    assert grouped.balanced_accuracy == pytest.approx((0.5 + 1.0) / 2)
    [plain, _] = reviewed_performance(fresh_db)  # without the map no diagnosis is one of the labels
    assert (plain.n_scored, plain.balanced_accuracy) == (0, None)
