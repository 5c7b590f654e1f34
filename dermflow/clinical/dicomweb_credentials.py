"""DICOMweb credentials: from the environment or an Airflow connection, never from the config file.

    auth = dicomweb_auth(cfg.score.dicomweb_conn_id)      # DicomwebAuth or None (an open PACS)
    session = auth.session() if auth else requests.Session()

In order: ``DERMFLOW_DICOMWEB_TOKEN`` (a bearer token), ``DERMFLOW_DICOMWEB_USERNAME`` +
``DERMFLOW_DICOMWEB_PASSWORD`` (HTTP basic), then the Airflow connection named by
``score.dicomweb_conn_id``: Airflow's scoring task reads it (``airflow.sdk.BaseHook``) and hands its
login and password to ``dermflow score`` in those variables; run by hand, ``AIRFLOW_CONN_<ID>``
(Airflow's own URI or JSON form) is read here without importing Airflow. The config may name the
connection, never hold a secret: ``score.dicomweb_url`` with a password in it is refused.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

TOKEN_ENV = "DERMFLOW_DICOMWEB_TOKEN"
USERNAME_ENV = "DERMFLOW_DICOMWEB_USERNAME"
PASSWORD_ENV = "DERMFLOW_DICOMWEB_PASSWORD"


@dataclass(frozen=True)
class DicomwebAuth:
    username: str = ""
    password: str = ""
    token: str = ""

    def __repr__(self) -> str:  # never print a secret, even in a traceback
        kind = "token" if self.token else "basic" if self.username else "none"
        return f"DicomwebAuth({kind})"

    def session(self):
        import requests

        session = requests.Session()
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"
        elif self.username:
            session.auth = (self.username, self.password)
        return session

    def as_environment(self) -> dict[str, str]:
        """The variables that carry these credentials to a ``dermflow score`` subprocess."""
        if self.token:
            return {TOKEN_ENV: self.token}
        return {USERNAME_ENV: self.username, PASSWORD_ENV: self.password} if self.username else {}


def dicomweb_auth(conn_id: str | None = None, environ: dict[str, str] | None = None) -> DicomwebAuth | None:
    env = os.environ if environ is None else environ
    if env.get(TOKEN_ENV):
        return DicomwebAuth(token=env[TOKEN_ENV])
    if env.get(USERNAME_ENV):
        return DicomwebAuth(username=env[USERNAME_ENV], password=env.get(PASSWORD_ENV, ""))
    if conn_id:
        value = env.get(f"AIRFLOW_CONN_{conn_id.upper()}")
        if value:
            return _from_airflow_value(value)
    return None


def _from_airflow_value(value: str) -> DicomwebAuth:
    """Airflow's connection in an environment variable: a URI, or JSON with login and password."""
    text = value.strip()
    if text.startswith("{"):
        record = json.loads(text)
        return DicomwebAuth(username=record.get("login") or "", password=record.get("password") or "")
    parsed = urlparse(text)
    return DicomwebAuth(username=unquote(parsed.username or ""), password=unquote(parsed.password or ""))


def airflow_connection_auth(conn_id: str) -> DicomwebAuth:
    """Inside an Airflow task: the connection's login and password (the Task SDK fetches it)."""
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    return DicomwebAuth(username=connection.login or "", password=connection.password or "")
