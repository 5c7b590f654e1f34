from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from review_workload import PASSWORD

from dermflow.review import (
    NotAllowedError, add_user, clear_failed_logins, create_session, delete_session, expire_sessions, failed_logins,
    login_blocked, lookup_session, open_review_database, record_failed_login, set_disabled,
)


def test_a_sign_in_survives_a_restart_until_it_expires(fresh_db):
    add_user(fresh_db, "bob", "reviewer", PASSWORD)
    signed_in = create_session(fresh_db, "bob", hours=2)
    assert len(signed_in.session_id) >= 43 and len(signed_in.csrf_token) >= 43
    assert signed_in.session_id != signed_in.csrf_token
    url = str(fresh_db.engine.url)
    fresh_db.close()
    restarted = open_review_database(url)
    found = lookup_session(restarted, signed_in.session_id)
    assert found == signed_in and found.user.name == "bob"
    assert lookup_session(restarted, signed_in.session_id, now=signed_in.expires_at + timedelta(seconds=1)) is None
    assert lookup_session(restarted, "made-up") is None and lookup_session(restarted, "") is None
    restarted.close()


def test_sign_out_and_expiry_delete_sessions(fresh_db):
    add_user(fresh_db, "bob", "reviewer", PASSWORD)
    short, long = create_session(fresh_db, "bob", hours=0.001), create_session(fresh_db, "bob", hours=5)
    assert expire_sessions(fresh_db, now=datetime.now(timezone.utc) + timedelta(minutes=1)) == 1
    assert lookup_session(fresh_db, short.session_id) is None and lookup_session(fresh_db, long.session_id)
    assert delete_session(fresh_db, long.session_id) is True and delete_session(fresh_db, long.session_id) is False
    assert lookup_session(fresh_db, long.session_id) is None


def test_a_disabled_account_gets_no_session(fresh_db):
    add_user(fresh_db, "bob", "viewer", PASSWORD)
    set_disabled(fresh_db, "bob", True)
    with pytest.raises(NotAllowedError):
        create_session(fresh_db, "bob", hours=1)


def test_failed_sign_ins_are_counted_in_their_window_and_survive_a_restart(fresh_db):
    now = datetime.now(timezone.utc)
    for client in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
        record_failed_login(fresh_db, "bob", client)
    record_failed_login(fresh_db, "eve", "10.0.0.1")
    url = str(fresh_db.engine.url)
    fresh_db.close()
    db = open_review_database(url)
    assert failed_logins(db, "bob", 60) == 3 and failed_logins(db, "bob", 60, client="10.0.0.1") == 2
    assert login_blocked(db, "bob", max_failures=3, window_seconds=60)
    assert not login_blocked(db, "bob", max_failures=4, window_seconds=60)
    assert not login_blocked(db, "bob", max_failures=3, window_seconds=60, now=now + timedelta(seconds=120))
    clear_failed_logins(db, "bob")
    assert failed_logins(db, "bob", 60) == 0 and failed_logins(db, "eve", 60) == 1
    db.close()
