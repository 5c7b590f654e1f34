from __future__ import annotations

from pathlib import Path

import pytest
from review_workload import PASSWORD

from dermflow.review import (
    AccountError, Role, UnknownUserError, add_user, change_password, change_role, create_session, get_user,
    issue_api_token, list_users, lookup_session, revoke_api_token, revoke_api_tokens, set_disabled,
    user_for_api_token, verify_credentials,
)


def test_an_account_is_added_listed_and_verified(fresh_db):
    user = add_user(fresh_db, "dr.lee@clinic", "reviewer", PASSWORD)
    assert (user.name, user.role, user.disabled) == ("dr.lee@clinic", Role.REVIEWER, False)
    assert user.may_record_verdicts and not user.may_manage
    assert [u.name for u in list_users(fresh_db)] == ["dr.lee@clinic"]
    assert verify_credentials(fresh_db, "dr.lee@clinic", PASSWORD) == get_user(fresh_db, "dr.lee@clinic")
    assert verify_credentials(fresh_db, "dr.lee@clinic", PASSWORD + "x") is None
    assert verify_credentials(fresh_db, "nobody", PASSWORD) is None


@pytest.mark.parametrize(("name", "role", "password", "message"), [
    ("", "viewer", PASSWORD, "is not allowed"),
    ("has space", "viewer", PASSWORD, "is not allowed"),
    ("x" * 65, "viewer", PASSWORD, "is not allowed"),
    ("bob", "root", PASSWORD, "unknown role 'root'"),
    ("bob", "viewer", "short", "at least 8"),
])
def test_a_malformed_account_is_refused(fresh_db, name, role, password, message):
    with pytest.raises(AccountError, match=message):
        add_user(fresh_db, name, role, password)
    assert list_users(fresh_db) == []


def test_a_taken_name_is_refused(fresh_db):
    add_user(fresh_db, "bob", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="exists already"):
        add_user(fresh_db, "bob", "admin", PASSWORD)
    assert get_user(fresh_db, "bob").role is Role.VIEWER


def test_the_password_is_stored_only_as_its_hash(fresh_db):
    add_user(fresh_db, "bob", "viewer", "an unmistakable passphrase")
    fresh_db.close()
    stored = b"".join(p.read_bytes() for p in Path(fresh_db.engine.url.database).parent.glob("review.sqlite*"))
    assert b"bob" in stored and b"scrypt$" in stored
    assert b"an unmistakable passphrase" not in stored


def test_a_new_password_works_and_ends_the_sign_ins(fresh_db):
    add_user(fresh_db, "bob", "viewer", PASSWORD)
    signed_in = create_session(fresh_db, "bob", hours=1)
    change_password(fresh_db, "bob", "another good password")
    assert verify_credentials(fresh_db, "bob", PASSWORD) is None
    assert verify_credentials(fresh_db, "bob", "another good password").name == "bob"
    assert lookup_session(fresh_db, signed_in.session_id) is None
    with pytest.raises(UnknownUserError):
        change_password(fresh_db, "nobody", "another good password")


def test_roles_change_and_a_disabled_account_cannot_sign_in_until_enabled(fresh_db):
    add_user(fresh_db, "bob", "viewer", PASSWORD)
    assert change_role(fresh_db, "bob", "ADMIN").role is Role.ADMIN
    signed_in = create_session(fresh_db, "bob", hours=1)
    assert set_disabled(fresh_db, "bob", True).disabled
    assert verify_credentials(fresh_db, "bob", PASSWORD) is None
    assert lookup_session(fresh_db, signed_in.session_id) is None
    assert not get_user(fresh_db, "bob").may_manage
    set_disabled(fresh_db, "bob", False)
    assert verify_credentials(fresh_db, "bob", PASSWORD).may_manage


def test_an_api_token_is_shown_once_stored_hashed_and_revocable(fresh_db):
    add_user(fresh_db, "bob", "reviewer", PASSWORD)
    token, other = issue_api_token(fresh_db, "bob", "ci"), issue_api_token(fresh_db, "bob")
    assert token.startswith("dft_") and len(token) > 40 and token != other
    assert user_for_api_token(fresh_db, token).name == "bob"
    assert user_for_api_token(fresh_db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert user_for_api_token(fresh_db, "") is None
    with fresh_db.reading() as session:
        from sqlalchemy import text

        stored = [row[0] for row in session.execute(text("SELECT token_sha256 FROM api_tokens"))]
        used = session.execute(text("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL")).scalar()
    assert token not in stored and len(stored) == 2 and used == 1
    set_disabled(fresh_db, "bob", True)
    assert user_for_api_token(fresh_db, token) is None
    set_disabled(fresh_db, "bob", False)
    assert revoke_api_token(fresh_db, token) is True and revoke_api_token(fresh_db, token) is False
    assert user_for_api_token(fresh_db, token) is None and user_for_api_token(fresh_db, other).name == "bob"
    assert revoke_api_tokens(fresh_db, "bob") == 1
    assert user_for_api_token(fresh_db, other) is None
