"""The cluster's PostgreSQL: Airflow's metadata DB (and Celery's result backend), and the review store.

``initdb`` into ``<state>/pgdata`` (as the ``postgres`` user when run as root: Postgres refuses
to run as root), password auth (scram-sha-256) over TCP on 127.0.0.1 only, no Unix socket.
Two databases, ``airflow`` and ``review``, each owned by a role of the same name with a generated
password. A role's password reaches the server only as its SCRAM verifier (computed here), so no
statement the server might log holds it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
import secrets
import subprocess
from pathlib import Path

from dermflow.cluster.debian_packages import postgres_bindir

SUPERUSER = "postgres"
DATABASES = ("airflow", "review")  # each owned by the role of the same name
SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--", *command]
    return command


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SUPERUSER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _binary(name: str) -> str:
    bindir = postgres_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL binaries not found (apt-get install postgresql)")
    return str(bindir / name)


def initialised(pgdata: Path) -> bool:
    return (pgdata / "PG_VERSION").is_file()


def init_data_dir(pgdata: Path, superuser_password: str) -> None:
    pgdata.mkdir(mode=0o700, exist_ok=True)
    _chown_to_postgres(pgdata)
    pwfile = pgdata.parent / ".pg-superuser-pwfile"  # initdb wants an empty data dir
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(superuser_password + "\n")
    _chown_to_postgres(pwfile)
    try:
        subprocess.run(
            _as_postgres([
                _binary("initdb"), "-D", str(pgdata), "-U", SUPERUSER, f"--pwfile={pwfile}", "-E", "UTF8",
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--no-instructions",
            ]),
            check=True, capture_output=True, text=True,
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"initdb failed: {exc.stderr or exc.stdout}") from exc
    finally:
        pwfile.unlink(missing_ok=True)


def start(pgdata: Path, port: int, log_file: Path, timeout: int) -> int:
    """Starts the server (127.0.0.1:``port``, TCP only); returns the postmaster PID."""
    log_file.touch()
    _chown_to_postgres(log_file)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' -c max_connections=200"
    result = subprocess.run(
        _as_postgres([_binary("pg_ctl"), "start", "-D", str(pgdata), "-l", str(log_file), "-w", "-t", str(timeout), "-o", options]),
        capture_output=True, text=True, start_new_session=True,
    )
    if result.returncode != 0:
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.is_file() else ""
        raise RuntimeError(f"pg_ctl start failed: {result.stderr or result.stdout}\n{tail}")
    return postmaster_pid(pgdata)


def postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    try:
        return int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def stop(pgdata: Path, timeout: int) -> None:
    if postmaster_pid(pgdata) is None:
        return
    subprocess.run(
        _as_postgres([_binary("pg_ctl"), "stop", "-D", str(pgdata), "-m", "fast", "-w", "-t", str(timeout)]),
        capture_output=True, text=True,
    )


def scram_sha256_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """What PostgreSQL stores for a scram-sha-256 password (RFC 5802/7677): ``ALTER ROLE ... PASSWORD`` accepts it as is.

    PostgreSQL applies SASLprep to the password first; for the cluster's ASCII passwords that changes nothing.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def ensure_databases(port: int, superuser_password: str, passwords: dict[str, str]) -> None:
    """Creates each database of ``passwords`` and its owner role; (re)sets the role's password. Idempotent."""
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(host="127.0.0.1", port=port, user=SUPERUSER, password=superuser_password, dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for name, password in passwords.items():
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
                verb = "ALTER" if cursor.fetchone() else "CREATE"
                cursor.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(scram_sha256_verifier(password))))
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if not cursor.fetchone():
                    cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name)))
    finally:
        connection.close()
