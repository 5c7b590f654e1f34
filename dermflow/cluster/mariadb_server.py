"""The cluster's MariaDB: the ML Metadata store every worker shares (the ``mysql://`` route).

    if not mariadb_server.initialised(datadir): mariadb_server.init_data_dir(datadir, log_file)
    command = mariadb_server.command(datadir, port, init_file)   # started by the cluster manager, own session
    mariadb_server.write_init_file(init_file, password)           # before the start; removed once it is up
    mariadb_server.wait_ready(port, password, timeout, log_file)  # the ``mlmd`` user can log in over TCP

``mariadb-install-db`` into ``<state>/mariadb`` (owned by the ``mysql`` user when run as root:
mariadbd refuses to run as root). The server listens on 127.0.0.1 only (its Unix socket is in the
data dir, where only root may use it, through ``unix_socket`` authentication), with
``--no-defaults`` so the Debian package's own ``/etc/mysql`` settings and service play no part.

One database, ``mlmd``, and one user, ``mlmd``@``127.0.0.1``, whose password is
``MLMD_PASSWORD`` of the cluster's secrets file. The user and its password are (re)set at every
start through ``--init-file``: a 0600 file under the state dir, deleted as soon as the server
accepts the user, so the password is never on a command line, in a log, or in the config.
"""
from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

from dermflow.cluster.cluster_secrets import write_private
from dermflow.cluster.debian_packages import mariadb_binary
from dermflow.cluster.managed_process import port_open, wait_for

DATABASE = "mlmd"
USER = "mlmd"
HOST = "127.0.0.1"
SYSTEM_USER = "mysql"
SOCKET_NAME = "mariadb.sock"
PID_NAME = "mariadb.pid"


def _binary(name: str) -> str:
    found = mariadb_binary(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found (apt-get install mariadb-server)")
    return str(found)


def _chown_to_mysql(path: Path) -> None:
    """As root, hands ``path`` (and what is inside it) to the ``mysql`` user the server runs as."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(SYSTEM_USER)
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    for item in paths:
        os.chown(item, entry.pw_uid, entry.pw_gid)


def _user_args() -> list[str]:
    return [f"--user={SYSTEM_USER}"] if os.geteuid() == 0 else []


def initialised(datadir: Path) -> bool:
    return (datadir / "mysql" / "user.frm").is_file() or (datadir / "mysql" / "global_priv.frm").is_file()


def init_data_dir(datadir: Path, log_file: Path) -> None:
    """Creates the system tables (``mariadb-install-db``); root may only log in through the socket, as root."""
    datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _chown_to_mysql(datadir)
    with open(log_file, "ab") as log:
        result = subprocess.run(
            [_binary("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", *_user_args(),
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    if result.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"mariadb-install-db failed ({log_file}):\n{tail}")


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def write_init_file(init_file: Path, password: str) -> None:
    """The SQL mariadbd runs at start-up: the database, its user, the user's password (idempotent)."""
    user = f"{_quoted(USER)}@{_quoted(HOST)}"
    write_private(init_file, "\n".join([
        f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;",
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {_quoted(password)};",
        f"ALTER USER {user} IDENTIFIED BY {_quoted(password)};",
        f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO {user};",
        "",
    ]))
    _chown_to_mysql(init_file)


def command(datadir: Path, port: int, init_file: Path) -> list[str]:
    """The server's command line: 127.0.0.1:``port``, data, socket and PID file in ``datadir``."""
    return [
        _binary("mariadbd"), "--no-defaults", f"--datadir={datadir}", *_user_args(),
        f"--bind-address={HOST}", f"--port={port}", f"--socket={datadir / SOCKET_NAME}",
        f"--pid-file={datadir / PID_NAME}", f"--init-file={init_file}",
        "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
        "--innodb-buffer-pool-size=64M", "--max-connections=200",  # no --log-error: errors go to stderr, the log file
    ]


def connection_config(port: int, password: str, database: str = DATABASE):
    """An ML Metadata ``ConnectionConfig`` for this server (the password only in memory)."""
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.mysql.host = HOST
    config.mysql.port = port
    config.mysql.database = database
    config.mysql.user = USER
    config.mysql.password = password
    return config


def wait_ready(port: int, password: str, timeout: float, log_file: Path) -> None:
    """Waits until the ``mlmd`` user can open ML Metadata over TCP (which also creates its schema)."""
    from ml_metadata.metadata_store import metadata_store

    deadline = time.monotonic() + timeout
    wait_for(lambda: port_open(port), timeout, f"MariaDB to listen on {HOST}:{port}", log_file=log_file)
    while True:
        try:
            metadata_store.MetadataStore(connection_config(port, password))
            return
        except Exception as exc:  # not up yet: refused, or the init file not yet run
            if time.monotonic() > deadline:
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:]) if log_file.is_file() else ""
                raise TimeoutError(
                    f"timed out after {timeout:.0f} s waiting for MariaDB on {HOST}:{port} ({type(exc).__name__})\n{tail}"
                ) from None
            time.sleep(0.5)
