from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from review_workload import PASSWORD, image_sha256, record_in_processes, record_in_threads, shown

from dermflow.review import (
    InvalidVerdictError, NotAllowedError, QueueReason, UnknownUserError, VerdictBasis, VerdictDiagnosis, add_user,
    correct_verdict, count_verdicts_since, current_verdicts, get_verdict, keep_image, kept_image, list_verdicts,
    open_review_database, record_verdict, set_disabled, verdict_history,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def test_a_verdict_keeps_what_was_shown_who_when_and_why(db):
    before = datetime.now(timezone.utc)
    verdict = record_verdict(db, reviewer="alice", sha256=image_sha256("a").upper(), diagnosis="mel",
                             basis="Histopathology", lesion_id="IL_001", comment="patient Jane Roe, left arm",
                             shown=shown(predicted="NV"), image_path="clinic/a.jpg", queue_reason="melanoma_band")
    [stored] = verdict_history(db, image_sha256("a"))
    assert stored == verdict
    assert stored.sha256 == image_sha256("a")
    assert (stored.diagnosis, stored.basis, stored.queue_reason) == (VerdictDiagnosis.MEL, VerdictBasis.HISTOPATHOLOGY,
                                                                     QueueReason.MELANOMA_BAND)
    assert stored.reviewer == "alice" and stored.lesion_id == "IL_001" and stored.current and stored.supersedes is None
    assert stored.comment == "patient Jane Roe, left arm" and stored.image_path == "clinic/a.jpg"
    assert stored.shown.predicted_label == "NV" and list(stored.shown.probabilities) == ["MEL", "NV", "BCC"]
    assert stored.shown.model_version == "20260101T000000Z" and stored.shown.run_id == "run-1"
    assert before <= stored.recorded_at <= datetime.now(timezone.utc)
    assert stored.recorded_at.tzinfo is not None


@pytest.mark.parametrize(("fields", "message"), [
    ({"diagnosis": "OTHER"}, "OTHER needs other_text"),
    ({"diagnosis": "NV", "other_text": "wart"}, "only for diagnosis OTHER"),
    ({"diagnosis": "UNK"}, "diagnosis 'UNK' is not one of"),
    ({"basis": "biopsy"}, "basis 'biopsy' is not one of"),
    ({"queue_reason": "because"}, "queue_reason 'because' is not one of"),
    ({"sha256": "abc"}, "64 hex digits"),
    ({"lesion_id": "Jane Roe"}, "without spaces"),
    ({"comment": "x" * 4001}, "longer than 4000"),
    ({"shown": shown(predicted="SCC")}, "not one of the shown probabilities' labels"),
    ({"shown": replace(shown(), probabilities={"MEL": 1.5})}, "in [0, 1]"),
    ({"shown": replace(shown(), probabilities={"MEL": float("nan")})}, "in [0, 1]"),
    ({"shown": replace(shown(), model_version="")}, "model_version must be"),
    ({"keep_jpeg": b"\x89PNG\r\n"}, "prepared JPEG"),
    ({"supersedes": 10**9}, "no verdict 1000000000"),
], ids=lambda value: str(value)[:40])
def test_a_wrong_field_is_refused_with_its_name_and_nothing_is_stored(db, fields, message):
    digest = image_sha256("refused")
    request = {"reviewer": "alice", "sha256": digest, "diagnosis": "NV", "basis": "consensus", **fields}
    with pytest.raises(InvalidVerdictError, match=message.replace("(", r"\(").replace("[", r"\[")):
        record_verdict(db, **request)
    assert verdict_history(db, digest) == []


def test_other_takes_its_free_text(db):
    verdict = record_verdict(db, reviewer="ada", sha256=image_sha256("other"), diagnosis="other",
                             other_text="  seborrhoeic wart ", basis="single_expert")
    assert verdict.diagnosis is VerdictDiagnosis.OTHER and verdict.other_text == "seborrhoeic wart"


def test_only_enabled_reviewers_and_admins_record(db):
    with pytest.raises(NotAllowedError, match="'vic' is a viewer"):
        record_verdict(db, reviewer="vic", sha256=image_sha256("v"), diagnosis="NV", basis="consensus")
    with pytest.raises(UnknownUserError):
        record_verdict(db, reviewer="nobody", sha256=image_sha256("v"), diagnosis="NV", basis="consensus")
    add_user(db, "gone", "reviewer", PASSWORD)
    set_disabled(db, "gone", True)
    with pytest.raises(NotAllowedError, match="disabled"):
        record_verdict(db, reviewer="gone", sha256=image_sha256("v"), diagnosis="NV", basis="consensus")
    with pytest.raises(NotAllowedError):
        keep_image(db, image_sha256("v"), JPEG, "vic")
    assert verdict_history(db, image_sha256("v")) == []


def test_a_correction_is_a_new_verdict_and_the_history_stays(db):
    digest = image_sha256("corrected")
    first = record_verdict(db, reviewer="alice", sha256=digest, diagnosis="NV", basis="single_expert",
                           shown=shown(), queue_reason=QueueReason.RANDOM_AUDIT, image_path="x/corrected.jpg")
    second = correct_verdict(db, first.id, reviewer="ada", diagnosis="MEL", basis="histopathology", comment="biopsy")
    assert (second.supersedes, second.current, second.sha256) == (first.id, True, digest)
    assert second.shown == first.shown and second.queue_reason is QueueReason.RANDOM_AUDIT
    assert second.image_path == "x/corrected.jpg"
    history = verdict_history(db, digest)
    assert [(v.id, v.diagnosis.value, v.current) for v in history] == [(second.id, "MEL", True), (first.id, "NV", False)]
    assert get_verdict(db, first.id).current is False
    with pytest.raises(InvalidVerdictError, match=f"corrected already by verdict {second.id}"):
        correct_verdict(db, first.id, reviewer="alice", diagnosis="BCC", basis="consensus")
    third = correct_verdict(db, second.id, reviewer="alice", diagnosis="BCC", basis="consensus")
    assert [v.id for v in verdict_history(db, digest)] == [third.id, second.id, first.id]


def test_a_correction_must_be_about_the_same_image(db):
    first = record_verdict(db, reviewer="alice", sha256=image_sha256("one"), diagnosis="NV", basis="consensus")
    with pytest.raises(InvalidVerdictError, match="about another image"):
        record_verdict(db, reviewer="alice", sha256=image_sha256("two"), diagnosis="NV", basis="consensus",
                       supersedes=first.id)


def test_current_verdicts_take_the_newest_and_then_filter_by_basis(fresh_db):
    add_user(fresh_db, "rev", "reviewer", PASSWORD)
    histo = record_verdict(fresh_db, reviewer="rev", sha256=image_sha256("h"), diagnosis="MEL", basis="histopathology")
    weak = record_verdict(fresh_db, reviewer="rev", sha256=image_sha256("w"), diagnosis="NV", basis="histopathology")
    correct_verdict(fresh_db, weak.id, reviewer="rev", diagnosis="BKL", basis="single_expert")
    assert set(current_verdicts(fresh_db)) == {image_sha256("h"), image_sha256("w")}
    assert current_verdicts(fresh_db)[image_sha256("w")].diagnosis is VerdictDiagnosis.BKL
    assert list(current_verdicts(fresh_db, bases=["histopathology", "consensus"])) == [image_sha256("h")]
    assert list(current_verdicts(fresh_db, sha256s=[image_sha256("h"), image_sha256("none")])) == [image_sha256("h")]
    assert count_verdicts_since(fresh_db, histo.recorded_at - timedelta(seconds=1)) == 2
    assert count_verdicts_since(fresh_db, histo.recorded_at - timedelta(seconds=1), bases=["histopathology"]) == 1
    assert count_verdicts_since(fresh_db, datetime.now(timezone.utc) + timedelta(seconds=1)) == 0
    assert [v.id for v in list_verdicts(fresh_db, limit=2)] == [3, 2]


def test_a_kept_upload_is_stored_once_with_its_verdict(db):
    digest = image_sha256("upload")
    verdict = record_verdict(db, reviewer="alice", sha256=digest, diagnosis="DF", basis="single_expert",
                             queue_reason="upload", keep_jpeg=JPEG)
    assert kept_image(db, digest) == JPEG and verdict.queue_reason is QueueReason.UPLOAD
    assert keep_image(db, digest, JPEG + b"other", "ada") is False
    assert kept_image(db, digest) == JPEG
    assert kept_image(db, image_sha256("never kept")) is None


def test_eight_threads_record_200_verdicts_and_none_is_lost(fresh_db):
    add_user(fresh_db, "rev", "reviewer", PASSWORD)
    ids = record_in_threads(fresh_db, "rev", writers=8, total=200)
    assert len(ids) == len(set(ids)) == 200
    assert len(list_verdicts(fresh_db)) == 200
    assert len(current_verdicts(fresh_db)) == 200


def test_four_processes_record_200_verdicts_and_none_is_lost(fresh_db, tmp_path):
    add_user(fresh_db, "rev", "reviewer", PASSWORD)
    ids = record_in_processes(str(fresh_db.engine.url), "rev", tmp_path, processes=4, total=200)
    assert len(set(ids)) == 200
    assert sorted(v.id for v in list_verdicts(fresh_db)) == sorted(ids)


KILLED_WRITER = """
import json, sys, time
from dermflow.review import open_review_database, record_verdict
db = open_review_database(sys.argv[1])
verdict = record_verdict(db, reviewer="rev", sha256="ab" * 32, diagnosis="SCC", basis="histopathology")
print(json.dumps(verdict.id), flush=True)
time.sleep(600)
"""


def test_a_verdict_whose_commit_returned_survives_a_sigkill(fresh_db):
    add_user(fresh_db, "rev", "reviewer", PASSWORD)
    url = str(fresh_db.engine.url)
    fresh_db.close()
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, url], stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    reopened = open_review_database(url)
    [verdict] = verdict_history(reopened, "ab" * 32)
    assert verdict.id == json.loads(line) and verdict.diagnosis is VerdictDiagnosis.SCC
    reopened.close()


def test_a_database_error_never_shows_the_comment(db):
    from sqlalchemy.exc import IntegrityError

    from dermflow.review.review_tables import VerdictRow

    with pytest.raises(IntegrityError) as failed, db.writing() as session:  # past the store's checks: the schema's own
        session.add(VerdictRow(sha256=image_sha256("raw"), diagnosis="XYZ", basis="consensus", reviewer_id=1,
                               queue_reason="direct", comment="patient Jane Roe"))
    assert "ck_verdicts_diagnosis" in str(failed.value) and "Jane Roe" not in str(failed.value)


def test_a_verdict_from_the_queues_attention_reason_is_recorded(fresh_db):
    from dermflow.review import add_user

    add_user(fresh_db, "rita", "reviewer", PASSWORD)
    recorded = record_verdict(fresh_db, reviewer="rita", sha256="ab" * 32, diagnosis="NV", basis="consensus",
                              queue_reason="attention_off_lesion")
    assert recorded.queue_reason.value == "attention_off_lesion" and recorded.queue_reason.group == "queue"
