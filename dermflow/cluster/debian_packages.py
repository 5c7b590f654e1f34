"""PostgreSQL, Redis and MariaDB from Debian's packages, installed by ``up`` when they are missing.

Only as root (CI runs as root on a fresh machine); otherwise the error says what to install.
The packages' own services are not used: the cluster runs its own instances, on 127.0.0.1,
with data under its state folder.
"""
from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGES = {"postgres": "postgresql", "redis": "redis-server", "mariadb": "mariadb-server"}
MARIADB_PROGRAMS = ("mariadbd", "mariadb-install-db")  # the server, and what initialises its data dir


class MissingServerError(RuntimeError):
    """A server binary is missing and cannot be installed here."""


def postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (Debian keeps initdb off PATH), else PATH's."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _version_key(path: str) -> float:
    try:
        return float(Path(path).parts[-3])
    except ValueError:
        return 0.0


def redis_server_binary() -> Path | None:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    return Path(found) if found else None


def mariadb_binary(name: str) -> Path | None:
    """``mariadbd`` lives in /usr/sbin, off a normal user's PATH."""
    found = shutil.which(name) or next((f"{d}/{name}" for d in ("/usr/sbin", "/usr/bin") if os.path.exists(f"{d}/{name}")), None)
    return Path(found) if found else None


def missing_packages() -> list[str]:
    missing = []
    if postgres_bindir() is None:
        missing.append(PACKAGES["postgres"])
    if redis_server_binary() is None:
        missing.append(PACKAGES["redis"])
    if any(mariadb_binary(name) is None for name in MARIADB_PROGRAMS):
        missing.append(PACKAGES["mariadb"])
    return missing


def ensure_installed(install_missing: bool) -> None:
    """apt-get installs what is missing (root only), without starting the packages' own services."""
    missing = missing_packages()
    if not missing:
        return
    if not install_missing or os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MissingServerError(
            f"missing {', '.join(missing)}: install them (sudo apt-get install -y {' '.join(missing)}) "
            "or run `dermflow cluster up` as root with cluster.install_missing=true"
        )
    install_debian_packages(missing)
    still = missing_packages()
    if still:
        raise MissingServerError(f"apt-get installed {missing} but {still} still cannot be found")


def install_debian_packages(packages: list[str]) -> None:
    """apt-get update + install, quietly and without recommends (root only)."""
    log.warning("installing %s from Debian (apt-get; about a minute)", " ".join(packages))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "RUNLEVEL": "1"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )


def ensure_binaries(binaries: dict[str, str], install_missing: bool = True) -> dict[str, Path]:
    """Program name -> Debian package (e.g. {"chromedriver": "chromium-driver"}); installs the missing ones as root.

    Returns each program's path; raises MissingServerError when one is missing and cannot be installed.
    """
    def found() -> dict[str, Path | None]:
        return {name: (Path(p) if (p := shutil.which(name)) else None) for name in binaries}

    missing = sorted({binaries[name] for name, path in found().items() if path is None})
    if missing:
        if not install_missing or os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise MissingServerError(f"missing {', '.join(missing)}: sudo apt-get install -y {' '.join(missing)}")
        install_debian_packages(missing)
    paths = found()
    still = sorted(name for name, path in paths.items() if path is None)
    if still:
        raise MissingServerError(f"apt-get installed {missing} but {still} still cannot be found")
    return {name: path for name, path in paths.items() if path is not None}
