"""Opening the review store: one engine, sessions for reading and for writing, the schema migrated at open.

    db = open_configured_review_database(cfg.review)      # review.database_url, password from env or file
    db = open_review_database("sqlite:///var/review/review.sqlite")
    with db.writing() as session: ...                     # commits at the end, rolls back on an exception
    with db.reading() as session: ...

``open_review_database`` runs ``alembic upgrade head`` under a lock, so two processes opening a new
database at once both find it migrated once: SQLite's own write lock (``BEGIN IMMEDIATE``), or a
PostgreSQL advisory lock.

SQLite: WAL journal, ``synchronous=FULL`` (a commit that returned survives a kill or a power cut),
a 30 s busy timeout, foreign keys on, the parent folder made. Every write transaction starts with
``BEGIN IMMEDIATE``, so concurrent writers queue for the lock instead of failing half-way. WAL needs
shared memory between the processes: a network share (NFS, SMB) is refused; use PostgreSQL there.

PostgreSQL: ``postgresql+psycopg2://USER@HOST:PORT/DB`` (``postgresql://`` means the same); the
password is given apart (``review.password_file`` or ``DERMFLOW_REVIEW_DB_PASSWORD``), only in memory.

Both engines hide statement parameters in their errors (``hide_parameters``), so a database error
that reaches a log never carries a comment, a password hash or a token digest.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from dermflow.config import ReviewConfig
from dermflow.review.review_errors import DatabaseVersionError, ReviewStoreError
from dermflow.secret_source import read_secret

PASSWORD_ENV = "DERMFLOW_REVIEW_DB_PASSWORD"
PASSWORD_KEY = "REVIEW_DB_PASSWORD"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key held while migrating: any constant, the same in every process.
MIGRATION_LOCK_KEY = 0x64657266_72657677 & 0x7FFFFFFFFFFFFFFF
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre", "gpfs", "beegfs",
    "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone",
})


@dataclass(frozen=True)
class ReviewDatabase:
    """An open review store. ``url`` is printable (it never holds the password)."""

    engine: Engine
    url: str
    _reader: sessionmaker
    _writer: sessionmaker

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads; nothing it does is committed."""
        with self._reader() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends (the commit is durable when it returns)."""
        with self._writer() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_configured_review_database(review: ReviewConfig) -> ReviewDatabase:
    """``review.database_url``, with the PostgreSQL password from ``DERMFLOW_REVIEW_DB_PASSWORD`` or ``review.password_file``."""
    password = read_secret(PASSWORD_ENV, review.password_file, PASSWORD_KEY, "review.password_file")
    return open_review_database(review.database_url, password)


def open_review_database(url: str, password: str | None = None, migrate: bool = True) -> ReviewDatabase:
    """Connects, and brings the schema to the newest revision (``migrate``); see the module docstring."""
    parsed = _driver_url(url)
    if parsed.password is not None:
        raise ReviewStoreError("the review database URL must not hold a password: give it apart (review.password_file)")
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        engine = create_engine(parsed.set(password=password), pool_pre_ping=True, hide_parameters=True)
    writer_engine = engine.execution_options(review_write=True)
    db = ReviewDatabase(
        engine=engine, url=parsed.render_as_string(hide_password=True),
        _reader=sessionmaker(engine, expire_on_commit=False),
        _writer=sessionmaker(writer_engine, expire_on_commit=False),
    )
    if migrate:
        try:
            migrate_to_head(db)
        except BaseException:
            engine.dispose()
            raise
    return db


def _driver_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except Exception:
        raise ReviewStoreError(f"review database URL {url.split('@')[-1]!r} cannot be read") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg2")
    if backend != "sqlite" or not parsed.database or parsed.database == ":memory:":
        raise ReviewStoreError(
            f"review database {parsed.render_as_string(hide_password=True)!r}: use sqlite:///PATH or "
            "postgresql+psycopg2://USER@HOST:PORT/DB"
        )
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    path = Path(url.database).expanduser().absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    filesystem = filesystem_type(path.parent)
    if filesystem in NETWORK_FILESYSTEMS:
        raise ReviewStoreError(
            f"the review database {path} is on a network filesystem ({filesystem}); SQLite's WAL needs a local disk: "
            "set review.database_url to PostgreSQL (docs/review.md)"
        )
    engine = create_engine(url.set(database=str(path)), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                           hide_parameters=True)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _sqlite_begin, not by the driver
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ReviewStoreError(f"the review database could not switch to WAL (journal_mode is {mode})")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(connection) -> None:
    # Writers take the write lock at BEGIN: a transaction that read first and then tries to write
    # could not wait for the lock in WAL mode (SQLITE_BUSY_SNAPSHOT) and would fail instead.
    write = connection.get_execution_options().get("review_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def filesystem_type(path: Path, mounts_text: str | None = None) -> str | None:
    """The type (``ext4``, ``nfs4``...) of the filesystem holding ``path``, from /proc/mounts; None when unknown."""
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    resolved = os.path.realpath(path)
    best, best_type = "", None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fields[2]
    return best_type


def migrate_to_head(db: ReviewDatabase) -> str:
    """``alembic upgrade head`` under the database's lock; returns the revision it is at. A no-op when there."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    with db.engine.connect() as connection:
        if MigrationContext.configure(connection).get_current_revision() == head:
            return head
    with db.engine.execution_options(review_write=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        current = MigrationContext.configure(connection).get_current_revision()
        if current is not None and current != head and current not in {s.revision for s in scripts.walk_revisions()}:
            raise DatabaseVersionError(
                f"the review database is at schema revision {current}, which this dermflow does not know "
                f"(its newest is {head}): a newer dermflow migrated it; upgrade dermflow"
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return head
