"""The review store on a real PostgreSQL: migrations, concurrent writers, a correction race, the export.

A throwaway server (the cluster's own ``postgres_server``: initdb, scram-sha-256, 127.0.0.1 only) on a
free port, installed from Debian when missing (as root); skipped with the reason when it cannot be.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import duckdb
import pytest
from review_workload import PASSWORD, image_sha256, record_in_processes, record_in_threads, shown
from sqlalchemy import text

from dermflow.config import load_config
from dermflow.review import (
    InvalidVerdictError, add_user, correct_verdict, export_verdicts, list_users, list_verdicts,
    open_configured_review_database,
    open_review_database, record_verdict, reviewed_performance, verdict_history,
)

pytestmark = pytest.mark.e2e


def _postgres_available() -> str | None:
    """None when PostgreSQL's binaries are here (installing them as root if missing), else why not."""
    from dermflow.cluster.debian_packages import install_debian_packages, postgres_bindir

    if postgres_bindir() is not None:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "PostgreSQL is not installed and cannot be here (not root or no apt-get): apt-get install postgresql"
    try:
        install_debian_packages(["postgresql"])
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"apt-get install postgresql failed: {exc}"
    return None if postgres_bindir() is not None else "apt-get installed postgresql but initdb is not found"


@pytest.fixture(scope="module")
def server():
    """(port, superuser password) of a throwaway PostgreSQL; the ``review`` role owns the ``review`` database."""
    from dermflow.cluster import postgres_server
    from dermflow.cluster.managed_process import free_port

    reason = _postgres_available()
    if reason:
        pytest.skip(reason)
    state = Path(tempfile.mkdtemp(prefix="dermflow-review-pg-"))
    state.chmod(0o755)  # the postgres user must reach its data dir
    superuser_password, port = "su-" + os.urandom(8).hex(), free_port()
    try:
        postgres_server.init_data_dir(state / "pgdata", superuser_password)
        postgres_server.start(state / "pgdata", port, state / "postgres.log", 60)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not be started here: {exc}")
    yield port, superuser_password, state
    postgres_server.stop(state / "pgdata", 30)
    shutil.rmtree(state, ignore_errors=True)


def _database(server, name: str) -> tuple[str, str]:
    """A new database ``name`` owned by the role ``name``: (URL without the password, password)."""
    from dermflow.cluster import postgres_server

    port, superuser_password, _ = server
    password = "pw-" + os.urandom(12).hex()
    postgres_server.ensure_databases(port, superuser_password, {name: password})
    return f"postgresql+psycopg2://{name}@127.0.0.1:{port}/{name}", password


@pytest.fixture(scope="module")
def store(server):
    url, password = _database(server, "review")
    db = open_review_database(url, password)
    add_user(db, "rev", "reviewer", PASSWORD)
    yield db, url, password
    db.close()


def test_the_migrations_make_the_tables_of_the_code_on_postgres(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from dermflow.review.review_tables import ReviewBase

    db, url, _ = store
    assert db.dialect == "postgresql" and db.url == url
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), ReviewBase.metadata) == []
        kinds = dict(connection.execute(text(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'verdicts'")).all())
    assert kinds["recorded_at"] == "timestamp with time zone" and kinds["probabilities"] == "json"


def test_the_password_comes_from_the_file_or_the_variable_never_the_url(server, store, tmp_path, monkeypatch):
    _, url, password = store
    (tmp_path / "secrets.env").write_text(f"OTHER=x\nREVIEW_DB_PASSWORD={password}\n")
    monkeypatch.delenv("DERMFLOW_REVIEW_DB_PASSWORD", raising=False)
    cfg = load_config(overrides=[f"review.database_url={url}", f"review.password_file={tmp_path}/secrets.env"])
    db = open_configured_review_database(cfg.review)
    assert [u.name for u in list_users(db)] == ["rev"]
    db.close()
    monkeypatch.setenv("DERMFLOW_REVIEW_DB_PASSWORD", "wrong")
    done = subprocess.run([sys.executable, "-m", "dermflow.cli", "users", "list", "--set", f"review.database_url={url}",
                           "--set", f"review.password_file={tmp_path}/secrets.env"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "password authentication failed" in done.stderr and len(done.stderr.splitlines()) == 1
    assert password not in done.stderr


def test_four_processes_opening_a_new_database_at_once_migrate_it_once(server, tmp_path):
    url, password = _database(server, "review_race")
    opener = ("import os, sys, time, pathlib\nfrom dermflow.review import open_review_database\n"
              "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.01)\n"
              "open_review_database(sys.argv[1], os.environ['REVIEW_TEST_PASSWORD']).close()\n")
    env = {**os.environ, "REVIEW_TEST_PASSWORD": password}
    children = [subprocess.Popen([sys.executable, "-c", opener, url, str(tmp_path / "go")], env=env,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    (tmp_path / "go").touch()
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0] * 4, errors
    db = open_review_database(url, password)
    with db.reading() as session:
        assert session.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    db.close()


def test_eight_threads_and_four_processes_record_200_verdicts_each_and_none_is_lost(store, tmp_path):
    db, url, password = store
    before = len(list_verdicts(db))
    threads = record_in_threads(db, "rev", writers=8, total=200, prefix="pg-thread")
    processes = record_in_processes(url, "rev", tmp_path, processes=4, total=200, password=password, prefix="pg-proc")
    assert len(set(threads)) == 200 and len(set(processes)) == 200 and not set(threads) & set(processes)
    assert len(list_verdicts(db)) == before + 400


def test_two_corrections_of_one_verdict_at_once_keep_one_chain(store):
    db, _, _ = store
    first = record_verdict(db, reviewer="rev", sha256=image_sha256("race"), diagnosis="NV", basis="single_expert")
    barrier, outcomes = threading.Barrier(2), []

    def correct(diagnosis: str) -> None:
        barrier.wait()
        try:
            outcomes.append(correct_verdict(db, first.id, reviewer="rev", diagnosis=diagnosis, basis="consensus").id)
        except InvalidVerdictError as exc:
            outcomes.append(str(exc))

    workers = [threading.Thread(target=correct, args=(d,)) for d in ("MEL", "BCC")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    won = [o for o in outcomes if isinstance(o, int)]
    assert len(won) == 1 and "corrected" in next(o for o in outcomes if isinstance(o, str))
    assert [v.id for v in verdict_history(db, image_sha256("race"))] == [won[0], first.id]


def test_the_export_of_postgres_verdicts_gives_the_same_figures_in_duckdb(store, tmp_path):
    db, _, _ = store
    for image, predicted, diagnosis, reason in (("e1", "MEL", "MEL", "melanoma_band"), ("e2", "NV", "MEL", "random_audit"),
                                                ("e3", "NV", "NV", "random_audit")):
        record_verdict(db, reviewer="rev", sha256=image_sha256(image), diagnosis=diagnosis, basis="histopathology",
                       shown=shown("pg-version", predicted), queue_reason=reason, comment="Jane Roe")
    summary = export_verdicts(db, tmp_path)
    assert summary.rows == len(list_verdicts(db))
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path}/verdicts/**/*.parquet', hive_partitioning = true) "
                      "WHERE model_version = 'pg-version' ORDER BY verdict_id").df()
    assert list(rows["diagnosis"]) == ["MEL", "MEL", "NV"] and "comment" not in rows.columns
    recorded = {v.id: v.recorded_at for v in list_verdicts(db)}
    assert all(recorded[int(i)] == t.to_pydatetime() for i, t in zip(rows["verdict_id"], rows["recorded_at"]))
    [figures] = [f for f in reviewed_performance(db) if f.model_version == "pg-version" and f.group == "all"]
    assert figures.balanced_accuracy == pytest.approx((0.5 + 1.0) / 2)
