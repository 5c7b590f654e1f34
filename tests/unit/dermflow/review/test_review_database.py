from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from dermflow.config import load_config
from dermflow.review import DatabaseVersionError, ReviewStoreError, open_configured_review_database, open_review_database
from dermflow.review.review_database import MIGRATIONS, filesystem_type
from dermflow.review.review_tables import ReviewBase

OPENER = """
import sys, time
from pathlib import Path
from dermflow.review import open_review_database
while not Path(sys.argv[2]).exists():
    time.sleep(0.01)
open_review_database(sys.argv[1]).close()
"""


def _scalar(db, sql: str):
    with db.reading() as session:
        return session.execute(text(sql)).scalar()


def test_sqlite_opens_in_wal_with_full_sync_and_foreign_keys_in_a_new_folder(tmp_path):
    db = open_review_database(f"sqlite:///{tmp_path}/new/folder/review.sqlite")
    assert (tmp_path / "new" / "folder" / "review.sqlite").is_file()
    assert _scalar(db, "PRAGMA journal_mode") == "wal"
    assert _scalar(db, "PRAGMA synchronous") == 2  # FULL
    assert _scalar(db, "PRAGMA foreign_keys") == 1
    assert _scalar(db, "PRAGMA busy_timeout") == 30000
    assert db.dialect == "sqlite" and db.url == f"sqlite:///{tmp_path}/new/folder/review.sqlite"
    db.close()


def test_the_migrations_make_exactly_the_tables_of_the_code(fresh_db):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert _scalar(fresh_db, "SELECT version_num FROM alembic_version") == ScriptDirectory.from_config(config).get_current_head()
    with fresh_db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, ReviewBase.metadata) == []
    tables = {row[0] for row in fresh_db.engine.connect().execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    assert {"users", "api_tokens", "sessions", "login_failures", "verdicts", "kept_images"} <= tables


def test_four_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path):
    url, start = f"sqlite:///{tmp_path}/review.sqlite", tmp_path / "go"
    children = [subprocess.Popen([sys.executable, "-c", OPENER, url, str(start)], stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
    start.touch()
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], errors
    db = open_review_database(url)
    assert _scalar(db, "SELECT count(*) FROM alembic_version") == 1
    db.close()


def test_a_database_from_a_newer_dermflow_is_refused(fresh_db):
    url = str(fresh_db.engine.url)
    with fresh_db.writing() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    fresh_db.close()
    with pytest.raises(DatabaseVersionError, match="revision 9999, which this dermflow does not know"):
        open_review_database(url)


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://review:secret@127.0.0.1:5432/review", "must not hold a password"),
    ("sqlite://", "use sqlite:///PATH"),
    ("sqlite:///:memory:", "use sqlite:///PATH"),
    ("mysql://u@h/db", "use sqlite:///PATH or postgresql"),
])
def test_urls_it_cannot_keep_verdicts_in_are_refused(url, message):
    with pytest.raises(ReviewStoreError, match=message) as refused:
        open_review_database(url)
    assert "secret" not in str(refused.value)


MOUNTS = """\
/dev/sda1 / ext4 rw 0 0
server:/export /mnt/share nfs4 rw 0 0
//nas/clinic /mnt/clinic\\040data cifs rw 0 0
"""


def test_the_filesystem_of_a_path_is_read_from_the_mount_table():
    assert filesystem_type(Path("/var/lib/x"), MOUNTS) == "ext4"
    assert filesystem_type(Path("/mnt/share/review"), MOUNTS) == "nfs4"
    assert filesystem_type(Path("/mnt/clinic data/x"), MOUNTS) == "cifs"
    assert filesystem_type(Path("/mnt/shared"), MOUNTS) == "ext4"  # a prefix of the name is not the mount


def test_the_configured_database_is_the_one_opened(tmp_path, monkeypatch):
    cfg = load_config(overrides=[f"review.database_url=sqlite:///{tmp_path}/configured.sqlite"])
    db = open_configured_review_database(cfg.review)
    assert Path(db.engine.url.database) == tmp_path / "configured.sqlite" and (tmp_path / "configured.sqlite").exists()
    db.close()
    monkeypatch.chdir(tmp_path)
    default = open_configured_review_database(load_config().review)
    assert Path(default.engine.url.database) == tmp_path / "var" / "review" / "review.sqlite"
    default.close()
