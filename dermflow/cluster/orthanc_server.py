"""A local Orthanc PACS (Debian's ``orthanc`` + ``orthanc-dicomweb``) for tests, benchmarks and trying DICOMweb out.

    ensure_orthanc()                                   # apt-get installs orthanc, orthanc-dicomweb, dicom3tools as root
    with OrthancServer(state_dir, users={"dermflow": "secret"}) as pacs:
        pacs.dicomweb_url                              # http://127.0.0.1:<free port>/dicom-web
        pacs.stop(); pacs.start()                      # same storage, same port: "the PACS went away, then came back"

Orthanc runs with a generated configuration on a free loopback HTTP port, its DICOM (DIMSE) server
off, storage under ``state_dir``, never the packaged service (4242 / 8042): installing with
``RUNLEVEL=1`` keeps the package from starting it, and it is stopped if it was started anyway.
``OverwriteInstances`` is on, so storing an SR again with the same SOP Instance UID replaces it.
``shutdown_after_instances`` makes Orthanc exit when the next instance after that many arrives (a Lua
``ReceivedInstanceFilter``, run inside the store request): the PACS going away mid-run, deterministically.
The process is started in a session of its own and stopped by that session, nothing else.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from dermflow.cluster.debian_packages import MissingServerError, install_debian_packages
from dermflow.cluster.managed_process import free_port, port_open, session_alive, stop_session, wait_for

ORTHANC_BINARY = "Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
DCIODVFY = "dciodvfy"
PACKAGES = ("orthanc", "orthanc-dicomweb", "dicom3tools")


def orthanc_binary() -> Path | None:
    found = shutil.which(ORTHANC_BINARY) or next(
        (f"{d}/{ORTHANC_BINARY}" for d in ("/usr/sbin", "/usr/bin") if os.path.exists(f"{d}/{ORTHANC_BINARY}")), None
    )
    return Path(found) if found else None


def missing_packages() -> list[str]:
    missing = []
    if orthanc_binary() is None:
        missing.append("orthanc")
    if not DICOMWEB_PLUGIN.is_file():
        missing.append("orthanc-dicomweb")
    if shutil.which(DCIODVFY) is None:
        missing.append("dicom3tools")
    return missing


def ensure_orthanc(install_missing: bool = True) -> None:
    """Installs what is missing (root only, apt-get); raises MissingServerError saying what to install otherwise."""
    missing = missing_packages()
    if not missing:
        return
    if not install_missing or os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MissingServerError(f"missing {', '.join(missing)}: sudo apt-get install -y {' '.join(missing)}")
    install_debian_packages(missing)
    if "orthanc" in missing and shutil.which("invoke-rc.d"):
        subprocess.run(["invoke-rc.d", "orthanc", "stop"], env={**os.environ, "RUNLEVEL": "1"},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    still = missing_packages()
    if still:
        raise MissingServerError(f"apt-get installed {missing} but {still} still cannot be found")


def _shutdown_lua(after_instances: int) -> str:
    # ReceivedInstanceFilter runs inside the store request, before Orthanc answers it: the instance after the
    # last one accepted ends the process there, so no later store slips in while a shutdown completes.
    return (
        "received = 0\n"
        "function ReceivedInstanceFilter(dicom, origin, info)\n"
        "  received = received + 1\n"
        f"  if received > {int(after_instances)} then os.exit(1) end\n"
        "  return true\n"
        "end\n"
    )


class OrthancServer:
    def __init__(self, state_dir: Path, users: dict[str, str] | None = None, shutdown_after_instances: int = 0,
                 start_timeout_s: float = 60.0):
        self.state_dir = Path(state_dir)
        self.users = dict(users or {})
        self.port = free_port()
        self._shutdown_after = shutdown_after_instances
        self._timeout = start_timeout_s
        self._sid: int | None = None
        self.log_file = self.state_dir / "orthanc.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def _write_config(self) -> Path:
        storage = self.state_dir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "dermflow-test-pacs", "StorageDirectory": str(storage), "IndexDirectory": str(storage),
            "HttpPort": self.port, "RemoteAccessAllowed": False, "DicomServerEnabled": False,
            "AuthenticationEnabled": bool(self.users), "RegisteredUsers": self.users,
            "OverwriteInstances": True, "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "StudiesMetadata": "Full",
                         "SeriesMetadata": "Full"},
            "HttpTimeout": 60, "StableAge": 1, "ConcurrentJobs": 1,
        }
        if self._shutdown_after:
            lua = self.state_dir / "shutdown.lua"
            lua.write_text(_shutdown_lua(self._shutdown_after))
            config["LuaScripts"] = [str(lua)]
        path = self.state_dir / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def start(self) -> "OrthancServer":
        binary = orthanc_binary()
        if binary is None:
            raise MissingServerError("Orthanc is not installed (ensure_orthanc installs it)")
        config = self._write_config()
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen([str(binary), str(config)], stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=self.state_dir, start_new_session=True)
        self._sid = process.pid
        self._process = process
        wait_for(self._answers, self._timeout, f"Orthanc on port {self.port}", interval=0.2, log_file=self.log_file)
        return self

    def _answers(self) -> bool:
        import requests

        if not port_open(self.port):
            return False
        auth = next(iter(self.users.items()), None)
        try:
            return requests.get(f"{self.url}/system", auth=auth, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def running(self) -> bool:
        if self._sid is None:
            return False
        self._process.poll()
        return session_alive(self._sid)

    def wait_stopped(self, timeout_s: float = 30.0) -> None:
        """Waits until Orthanc has exited by itself (after ``shutdown_after_instances``)."""
        deadline = time.monotonic() + timeout_s
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.2)

    def restart(self, shutdown_after_instances: int = 0) -> "OrthancServer":
        """Starts it again on the same port and storage (after it went away, or was stopped)."""
        self.stop()
        self._shutdown_after = shutdown_after_instances
        return self.start()

    def stop(self) -> None:
        if self._sid is not None:
            stop_session(self._sid, grace_seconds=15)
            self._process.wait(timeout=15)
            self._sid = None

    def __enter__(self) -> "OrthancServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
