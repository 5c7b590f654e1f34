"""The ML Metadata password, read when a connection is opened, never stored with the config.

    config = with_password(metadata_connection_config(pipeline_ir), cfg.paths)   # a copy, for mlmd.MetadataStore

``paths.metadata_connection`` names the store without a password (``mysql://mlmd@127.0.0.1:3306/mlmd``;
the config refuses one there). The password comes from the environment variable
``DERMFLOW_MLMD_PASSWORD`` or else from ``MLMD_PASSWORD=...`` in ``paths.metadata_password_file``
(the cluster points it at its secrets file). It is put into the ``ConnectionConfig`` only in
memory, just before ``MetadataStore`` opens it: the compiled pipeline, TFX's execution properties,
the registry and the logs hold the config without it.
"""
from __future__ import annotations

import copy
from typing import Any

from dermflow.config import PathsConfig
from dermflow.secret_source import MissingPasswordError, read_secret

PASSWORD_ENV = "DERMFLOW_MLMD_PASSWORD"
PASSWORD_KEY = "MLMD_PASSWORD"


class MissingMetadataPasswordError(MissingPasswordError):
    """A mysql:// ML Metadata store is configured, but neither the variable nor the file gives its password."""


def metadata_password(paths: PathsConfig) -> str | None:
    """``DERMFLOW_MLMD_PASSWORD``, else ``MLMD_PASSWORD`` in ``paths.metadata_password_file``, else None."""
    try:
        return read_secret(PASSWORD_ENV, paths.metadata_password_file, PASSWORD_KEY, "paths.metadata_password_file")
    except MissingPasswordError as exc:
        raise MissingMetadataPasswordError(str(exc)) from None


def with_password(connection_config: Any, paths: PathsConfig) -> Any:
    """A copy of an ML Metadata ``ConnectionConfig`` (or its ``mysql`` part) with the password filled in.

    SQLite configs, and MySQL ones that already carry a password, come back unchanged.
    """
    mysql = _mysql_part(connection_config)
    if mysql is None or mysql.password:
        return connection_config
    password = metadata_password(paths)
    if password is None:
        raise MissingMetadataPasswordError(
            f"ML Metadata on MySQL ({mysql.user}@{mysql.host}:{mysql.port}/{mysql.database}) needs a password: set "
            f"{PASSWORD_ENV} or paths.metadata_password_file (a file with {PASSWORD_KEY}=...)"
        )
    filled = copy.deepcopy(connection_config)
    _mysql_part(filled).password = password
    return filled


def _mysql_part(connection_config: Any) -> Any:
    descriptor_name = connection_config.DESCRIPTOR.name
    if descriptor_name == "MySQLDatabaseConfig":
        return connection_config
    if descriptor_name == "ConnectionConfig" and connection_config.WhichOneof("config") == "mysql":
        return connection_config.mysql
    return None
