from dermflow.config import ISIC_DIAGNOSES, VERDICT_BASES, load_config
from dermflow.review import QueueReason, Role, VerdictBasis, VerdictDiagnosis


def test_the_enums_hold_the_configs_vocabularies():
    assert [d.value for d in VerdictDiagnosis] == [*ISIC_DIAGNOSES, "OTHER"]
    assert tuple(b.value for b in VerdictBasis) == VERDICT_BASES
    assert [VerdictBasis(b) for b in load_config().review.training_bases] == [VerdictBasis.HISTOPATHOLOGY,
                                                                               VerdictBasis.CONSENSUS]


def test_what_each_role_may_do():
    assert [(r.value, r.may_record_verdicts, r.may_manage) for r in Role] == [
        ("viewer", False, False), ("reviewer", True, False), ("admin", True, True)]


def test_queue_reasons_fall_in_three_groups():
    assert {r.value: r.group for r in QueueReason} == {
        "out_of_scope": "queue", "prediction_set": "queue", "melanoma_band": "queue", "attention_off_lesion": "queue",
        "random_audit": "random_audit", "upload": "other", "direct": "other"}
    assert VerdictDiagnosis.parse(" mel ") is VerdictDiagnosis.MEL
