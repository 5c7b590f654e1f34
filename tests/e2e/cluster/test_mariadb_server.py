"""The cluster's MariaDB on its own: installed when missing, 127.0.0.1 only, the ``mlmd`` user's
password set at start from the secrets and never on the command line, TFX's escaped JSON kept
exactly by ML Metadata, and nothing left once it is stopped.

Its data dir lives under ``var/`` (the ``mysql`` user must reach it, which pytest's private temp
dirs do not allow) and is removed at the end.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dermflow.cluster import mariadb_server
from dermflow.cluster.cluster_manager import REPO_ROOT
from dermflow.cluster.debian_packages import ensure_installed
from dermflow.cluster.managed_process import free_port, port_open, session_alive, start_process, stop_session

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

PASSWORD = "p'w\\\"-" + "x" * 24  # quotes and a backslash: the init file must quote them


@pytest.fixture(scope="module")
def server():
    ensure_installed(True)
    root = REPO_ROOT / "var" / "e2e-mariadb"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    os.chmod(root, 0o755)
    datadir, log_file, init_file = root / "mariadb", root / "mariadb.log", root / ".init.sql"
    mariadb_server.init_data_dir(datadir, log_file)
    port = free_port()
    mariadb_server.write_init_file(init_file, PASSWORD)
    pid = start_process(mariadb_server.command(datadir, port, init_file), root / "mariadb.pid", log_file,
                        dict(os.environ), root)
    try:
        mariadb_server.wait_ready(port, PASSWORD, 120, log_file)
    finally:
        init_file.unlink(missing_ok=True)
    yield {"port": port, "pid": pid, "root": root, "datadir": datadir, "log": log_file}
    stop_session(pid, 20)
    shutil.rmtree(root, ignore_errors=True)


def test_it_listens_on_loopback_only_and_the_password_is_not_on_its_command_line(server):
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines()
    mine = [line for line in listening if f":{server['port']} " in line]
    assert mine and all(f"127.0.0.1:{server['port']} " in line for line in mine)
    assert PASSWORD.encode() not in Path(f"/proc/{server['pid']}/cmdline").read_bytes()
    assert PASSWORD.encode() not in server["log"].read_bytes()


def test_tfx_escaped_json_round_trips_through_ml_metadata(server):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    store = metadata_store.MetadataStore(mariadb_server.connection_config(server["port"], PASSWORD))
    value = '{"k": "v \\"q\\" \\\\ e", "café": "ünïcode"}'
    execution_type = metadata_store_pb2.ExecutionType(name="Trainer")
    execution_type.properties["custom_config"] = metadata_store_pb2.STRING
    execution = metadata_store_pb2.Execution(type_id=store.put_execution_type(execution_type))
    execution.properties["custom_config"].string_value = value
    [execution_id] = store.put_executions([execution])
    assert store.get_executions_by_id([execution_id])[0].properties["custom_config"].string_value == value


def test_a_wrong_password_is_refused(server):
    from ml_metadata.metadata_store import metadata_store

    with pytest.raises(Exception, match="mysql_real_connect failed"):
        metadata_store.MetadataStore(mariadb_server.connection_config(server["port"], "wrong"))


def test_stopping_it_leaves_no_process_and_no_port(server):
    assert port_open(server["port"])
    stop_session(server["pid"], 20)
    assert not session_alive(server["pid"]) and not port_open(server["port"])
    assert not (server["datadir"] / mariadb_server.PID_NAME).exists()
