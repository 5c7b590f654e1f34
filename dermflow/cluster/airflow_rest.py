"""A small client of the cluster's Airflow REST API (``/api/v2``), authenticated with a JWT.

    api = AirflowRest.for_cluster(cfg)
    api.unpause("dermflow_score")
    run_id = api.trigger("dermflow_score", conf={"input": [...]})
    run = api.wait_for_run("dermflow_score", run_id, timeout=600)      # raises unless it succeeded
    api.task_instances("dermflow_score", run_id)                       # task_id, map_index, state, queue, hostname...
    api.clear_task("dermflow_retrain", run_id, "Trainer")              # run one task again; api.xcom(...) its result

The token comes from SimpleAuthManager's ``POST /auth/token`` with the generated admin password.
Standard library only.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

TERMINAL_RUN_STATES = ("success", "failed")


class AirflowApiError(RuntimeError):
    pass


@dataclass
class AirflowRest:
    base_url: str
    username: str
    password: str
    _token: str | None = field(default=None, repr=False)

    @classmethod
    def for_cluster(cls, cfg) -> "AirflowRest":
        from dermflow.cluster.airflow_services import ADMIN_USER
        from dermflow.cluster.cluster_manager import layout_of
        from dermflow.cluster.cluster_secrets import read_secrets

        layout = layout_of(cfg)
        port = layout.read_state()["ports"]["api"]
        return cls(f"http://127.0.0.1:{port}", ADMIN_USER, read_secrets(layout.secrets_file)["ADMIN_PASSWORD"])

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            raise AirflowApiError(f"{method} {path}: HTTP {exc.code}: {exc.read().decode(errors='replace')[:500]}") from exc
        return json.loads(text) if text else {}

    def token(self) -> str:
        if self._token is None:
            answer = self._request("POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False)
            self._token = answer["access_token"]
        return self._token

    def dag(self, dag_id: str) -> dict | None:
        try:
            return self._request("GET", f"/api/v2/dags/{dag_id}")
        except AirflowApiError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def wait_for_dag(self, dag_id: str, timeout: float) -> dict:
        """Waits until the DAG processor has parsed ``dag_id`` into the DB."""
        deadline = time.monotonic() + timeout
        while (found := self.dag(dag_id)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout:.0f} s")
            time.sleep(2)
        return found

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> str:
        body: dict = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def runs(self, dag_id: str, run_type: str | None = None) -> list[dict]:
        """The DAG's runs, oldest first (of one ``run_type`` only, e.g. ``asset_triggered``, when given)."""
        query = "?order_by=id&limit=100" + (f"&run_type={run_type}" if run_type else "")
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns{query}")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=1000"
        return self._request("GET", path)["task_instances"]

    def clear_task(self, dag_id: str, run_id: str, task_id: str) -> None:
        """Clears one task instance of a run (as "Clear" in the UI): the scheduler runs it again."""
        self._request("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", {
            "dry_run": False, "dag_run_id": run_id, "task_ids": [task_id], "only_failed": False,
            "include_upstream": False, "include_downstream": False, "reset_dag_runs": True,
        })

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value"):
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/"
                f"{task_id}/xcomEntries/{key}?deserialize=true")
        return self._request("GET", path)["value"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float, on_poll=None) -> dict:
        """Polls until the run finishes; raises ``AirflowApiError`` (with each task's state) unless it succeeded."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if on_poll is not None:
                on_poll(run)
            if run["state"] in TERMINAL_RUN_STATES:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s: {self._states(dag_id, run_id)}")
            time.sleep(3)
        if run["state"] != "success":
            raise AirflowApiError(f"{dag_id} run {run_id} {run['state']}: {self._states(dag_id, run_id)}")
        return run

    def _states(self, dag_id: str, run_id: str) -> dict:
        return {f"{ti['task_id']}[{ti['map_index']}]": ti["state"] for ti in self.task_instances(dag_id, run_id)}
