"""``dermflow users`` and ``dermflow verdicts`` as a person runs them: no password or comment on the console."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from review_cases import COMMENT, OTHER_TEXT, record_cases

from dermflow.review import add_user, open_review_database, user_for_api_token, verify_credentials

SECRET = "a password nobody should see"


def _dermflow(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dermflow.cli", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4])})


@pytest.fixture
def url(tmp_path) -> str:
    return f"review.database_url=sqlite:///{tmp_path}/review.sqlite"


def test_users_add_stores_the_password_read_from_stdin_and_never_prints_it(url, tmp_path):
    done = _dermflow("users", "add", "alice", "--role", "reviewer", "--password-stdin", "--set", url, stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "users: added alice (reviewer)\n"
    listed = _dermflow("users", "list", "--json", "--set", url)
    assert [(u["name"], u["role"], u["disabled"]) for u in json.loads(listed.stdout)] == [("alice", "reviewer", False)]
    for step in (("users", "role", "alice", "admin"), ("users", "disable", "alice"), ("users", "enable", "alice")):
        assert _dermflow(*step, "--set", url).returncode == 0
    db = open_review_database(f"sqlite:///{tmp_path}/review.sqlite")
    assert verify_credentials(db, "alice", SECRET).role.value == "admin"
    assert SECRET not in done.stdout + done.stderr + listed.stdout + listed.stderr
    db.close()


def test_the_default_database_is_the_checkouts_var_review(tmp_path):
    done = _dermflow("users", "add", "bob", "--role", "viewer", "--password-stdin", stdin=SECRET, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "review" / "review.sqlite").is_file()


def test_a_token_is_printed_once_on_stdout_and_works(url, tmp_path):
    _dermflow("users", "add", "alice", "--role", "reviewer", "--password-stdin", "--set", url, stdin=SECRET)
    done = _dermflow("users", "token", "alice", "--label", "ci", "--set", url)
    token = done.stdout.strip()
    assert done.returncode == 0 and token.startswith("dft_") and "shown this once" in done.stderr
    db = open_review_database(f"sqlite:///{tmp_path}/review.sqlite")
    assert user_for_api_token(db, token).name == "alice"
    revoked = _dermflow("users", "revoke-tokens", "alice", "--set", url)
    assert revoked.stdout == "users: revoked 1 token(s) of alice\n" and user_for_api_token(db, token) is None
    db.close()


@pytest.mark.parametrize(("args", "stdin", "line"), [
    (["users", "add", "alice", "--role", "reviewer", "--password-stdin"], "short", "at least 8 characters"),
    (["users", "add", "alice", "--role", "reviewer"], "", "no terminal to ask for the password on"),
    (["users", "passwd", "nobody", "--password-stdin"], SECRET, "no account named 'nobody'"),
    (["users", "disable", "nobody"], "", "no account named 'nobody'"),
    (["verdicts", "list", "--sha256", "xyz"], "", "sha256 must be the image's 64 hex digits"),
    (["verdicts", "list", "--limit", "-1"], "", "--limit must be 0 (all) or more"),
])
def test_a_mistake_is_one_line_and_exit_2(url, args, stdin, line):
    done = _dermflow(*args, "--set", url, stdin=stdin)
    assert done.returncode == 2, done.stderr
    [printed] = done.stderr.splitlines()
    assert printed.startswith(f"dermflow {args[0]}: ") and line in printed
    assert SECRET not in done.stderr + done.stdout


def test_verdicts_list_keeps_free_text_back_unless_asked_and_export_writes_parquet(url, tmp_path):
    db = open_review_database(f"sqlite:///{tmp_path}/review.sqlite")
    add_user(db, "rev", "reviewer", SECRET)
    record_cases(db, "rev")
    db.close()
    listed = _dermflow("verdicts", "list", "--limit", "0", "--set", url)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 10
    assert COMMENT not in listed.stdout and OTHER_TEXT not in listed.stdout
    as_json = json.loads(_dermflow("verdicts", "list", "--json", "--set", url).stdout)
    assert len(as_json) == 10 and "comment" not in as_json[0]
    assert COMMENT in _dermflow("verdicts", "list", "--free-text", "--set", url).stdout
    exported = _dermflow("verdicts", "export", "--output", str(tmp_path / "export"), "--set", url)
    assert exported.returncode == 0, exported.stderr
    assert "exported 10 verdict(s) on 8 image(s)" in exported.stdout
    assert len(list((tmp_path / "export" / "verdicts").rglob("*.parquet"))) == 3
    performance = _dermflow("verdicts", "performance", "--json", "--set", url)
    groups = [(f["model_version"], f["group"]) for f in json.loads(performance.stdout)]
    assert ("20260101T000000Z", "random_audit") in groups and len(groups) == 6
