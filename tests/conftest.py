"""Shared fixtures. Test data is made by the tests (synthetic archive) or read from ../shared."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DERMFLOW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
ISIC_DEV = SHARED_DATA / "isic2019-dev"
ISIC_FULL_CSV = SHARED_DATA / "isic2019-full-csv"

from dermflow.runtime_environment import apply_runtime_environment

apply_runtime_environment(airflow=False)  # the CLI's KERAS_HOME / TF_CPP_MIN_LOG_LEVEL rule; Airflow tests bring their own home


@pytest.fixture(scope="session", autouse=True)
def tfx_never_repackages_itself():
    """Fails a test whose TFX Beam executor got Beam options without a dependency option.

    TFX then copies its install into a new temporary folder and builds an sdist there for the
    workers (3 s, 52 MB, never deleted): hundreds of them filled CI's disk. ``cfg.beam.pipeline_args()``
    names one.
    """
    from tfx.utils import dependency_utils

    def refuse():
        raise AssertionError("a TFX Beam executor got Beam options with no dependency option, so TFX would "
                             "repackage itself into the temporary folder: pass cfg.beam.pipeline_args()")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dependency_utils, "build_ephemeral_package", refuse)
        yield


@pytest.fixture(scope="session")
def isic_dev_root() -> Path:
    """The real ISIC 2019 sample (5,164 images) beside the project; skips when it is not there."""
    if not (ISIC_DEV / "ISIC_2019_Training_GroundTruth.csv").is_file():
        pytest.skip(f"real ISIC sample not found at {ISIC_DEV} (../shared/data is provided to developers and CI only)")
    return ISIC_DEV


@pytest.fixture(scope="session")
def isic_full_csv_root() -> Path:
    if not (ISIC_FULL_CSV / "ISIC_2019_Training_GroundTruth.csv").is_file():
        pytest.skip(f"full ISIC CSVs not found at {ISIC_FULL_CSV}")
    return ISIC_FULL_CSV


@pytest.fixture(scope="session")
def imagenet_weights():
    """ImageNet MobileNetV2 weights where Keras looks ($KERAS_HOME, which make sets to var/keras).

    Installed here if missing (idempotent, offline-capable: see docs/weights.md), as `make install` does.
    """
    from dermflow.weights import install_imagenet_weights

    return install_imagenet_weights()
