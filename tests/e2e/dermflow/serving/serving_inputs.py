"""Inputs for the serving tests: good and bad files as the scoring job's list has them, and config helpers."""
from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dermflow.config import load_config
from dermflow.imaging.dicom_reader import encode_dicom
from image_file_bytes import encode, png_header_only

PATIENT_NAME = "Confidential^Wilhelmina^Qz"
PATIENT_ID = "QQ-777-4242"
DICOM_UID = "1.2.826.0.1.3680043.8.498.11223344556677889900"
LOOPBACK_URL = "http://127.0.0.1:8765"  # TestClient's base URL: a Host the loopback server answers to


@dataclass(frozen=True)
class ScoredRun:
    inputs: Path  # the --source-root
    output: Path  # the --results folder
    good: dict[str, bytes]  # relative path -> bytes, scored
    bad: dict[str, tuple[bytes, str]]  # relative path -> (bytes, reason), rejected


def coffee_jpeg() -> bytes:
    """skimage's photo of a cup of coffee: no dermoscopy at all."""
    import skimage.data

    return encode(Image.fromarray(skimage.data.coffee()), "JPEG")


def _other_diagnoses(model, count: int) -> list[Path]:
    """Images of the archive whose diagnosis is none of the model's classes."""
    with open(model.archive / "ISIC_2019_Training_GroundTruth.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if not any(float(row[label]) == 1.0 for label in model.labels)]
    return [model.images_dir / f"{row['image']}.jpg" for row in rows[:count]]


def make_inputs(model, folder: Path) -> tuple[dict[str, bytes], dict[str, tuple[bytes, str]]]:
    sources = sorted(model.images_dir.glob("*.jpg"))[:8]
    good = {f"archive/{source.name}": source.read_bytes() for source in sources}
    good.update({f"other/{source.name}": source.read_bytes() for source in _other_diagnoses(model, 4)})
    good["photos/coffee.jpg"] = coffee_jpeg()
    rgb = np.asarray(Image.open(sources[0]).convert("RGB"))
    good["odd/lesion.png"] = encode(Image.fromarray(rgb[::-1]), "PNG")
    good["odd/patient.dcm"] = encode_dicom(rgb[:, ::-1].copy(), DICOM_UID, {"PatientName": PATIENT_NAME, "PatientID": PATIENT_ID})
    jpeg = sources[1].read_bytes()
    bad = {
        "bad/truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "bad/empty.jpg": (b"", "empty_file"),
        "bad/notes.txt": (b"patient list, not an image\n", "not_an_image"),
        "bad/huge.png": (png_header_only(20_000, 20_000), "too_many_pixels"),
    }
    for relative, data in {**good, **{k: v[0] for k, v in bad.items()}}.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    return good, bad


def serve_config(tmp_path: Path, *overrides: str):
    """The config of a test server: its own review database under ``tmp_path``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    return load_config(None, [f"review.database_url=sqlite:///{tmp_path / 'review.sqlite'}", *overrides])


PASSWORDS = {"rita": "rita-reviews-1234", "vic": "vic-views-5678", "ada": "ada-admins-9012"}
ROLES = {"rita": "reviewer", "vic": "viewer", "ada": "admin"}


def add_accounts(cfg) -> None:
    """rita (reviewer), vic (viewer) and ada (admin), with PASSWORDS, in the config's review database."""
    from dermflow.review import add_user, open_configured_review_database

    db = open_configured_review_database(cfg.review)
    try:
        for name, role in ROLES.items():
            add_user(db, name, role, PASSWORDS[name])
    finally:
        db.close()


def sign_in(client, name: str) -> str:
    """Signs ``client`` (a TestClient or httpx.Client) in as ``name``; returns the session's CSRF token."""
    import re

    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"csrf_token": token, "name": name, "password": PASSWORDS[name], "next": "/"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    home = client.get("/")
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', home.text).group(1)



def copy_registry(scoring_model, destination: Path) -> Path:
    shutil.copytree(scoring_model.registry, destination)
    return destination


DOCS_IMAGES = Path(__file__).resolve().parents[4] / "docs" / "images"


def screenshot(browser, name: str) -> Path:
    """The whole page (up to 2,200 px tall) at 1280 px wide, from its top, saved under docs/images/."""
    browser.execute_script("window.scrollTo(0, 0)")
    height = browser.execute_script("return Math.min(document.documentElement.scrollHeight, 2200)")
    browser.set_window_size(1280, max(700, height))
    browser.execute_script("window.scrollTo(0, 0)")
    deadline = time.monotonic() + 30  # lazy thumbnails now in view: wait until every image has loaded
    while time.monotonic() < deadline and not browser.execute_script(
            "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"):
        time.sleep(0.2)
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    path = DOCS_IMAGES / name
    browser.save_screenshot(str(path))
    browser.set_window_size(1280, 1400)
    assert path.stat().st_size > 10_000
    return path
