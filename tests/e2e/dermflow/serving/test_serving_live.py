"""A real `dermflow serve` (uvicorn on 127.0.0.1, its own TMPDIR): nothing kept, a burst, and a real browser."""
from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from serving_inputs import DICOM_UID, PATIENT_ID, PATIENT_NAME

pytestmark = pytest.mark.e2e

QUEUE_SIZE = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(scoring_model, scored_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("live_server")
    server_tmp = root / "server_tmp"
    server_tmp.mkdir()
    port = _free_port()
    dermflow = Path(sys.executable).with_name("dermflow")
    command = [
        str(dermflow), "serve", "--model", scoring_model.spec, "--results", str(scored_run.output),
        "--source-root", str(scored_run.inputs), "--port", str(port),
        "--set", f"serve.token_file={root / 'token'}", "--set", f"serve.queue_size={QUEUE_SIZE}",
        "--set", "serve.max_batch_size=2", "--set", "serve.batch_wait_ms=300",
    ]
    log = open(root / "server.log", "wb")
    env = {**os.environ, "TMPDIR": str(server_tmp), "TEMP": str(server_tmp), "TMP": str(server_tmp)}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the server did not come up:\n{(root / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    before = sorted(server_tmp.rglob("*"))
    yield url, server_tmp, before, root / "server.log"
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def test_a_5_mb_upload_leaves_no_file_behind(live_server):
    url, server_tmp, before, _ = live_server
    noise = np.random.default_rng(0).integers(0, 256, size=(1300, 1300, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG", compress_level=0)
    data = buffer.getvalue()
    assert len(data) > 5_000_000
    response = httpx.post(url + "/api/v1/predict", files={"file": ("big.png", data)}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()["image"] == {"format": "png", "width": 1300, "height": 1300}
    assert sorted(server_tmp.rglob("*")) == before  # nothing from the upload remains in the server's temporary folder


def test_no_dicom_value_reaches_the_server_log(live_server, scored_run):
    url, _, _, log = live_server
    for name in ("odd/patient.dcm", "bad/truncated.jpg"):
        data = scored_run.good.get(name) or scored_run.bad[name][0]
        httpx.post(url + "/api/v1/predict", files={"file": (f"{PATIENT_NAME}.dcm", data)}, timeout=60)
    text = log.read_text(errors="replace")
    assert "POST /api/v1/predict" in text  # the log is there, and it is uvicorn's
    for secret in (PATIENT_NAME, "Wilhelmina", PATIENT_ID, DICOM_UID):
        assert secret not in text


def test_a_burst_bigger_than_the_queue_gets_answers_or_503_then_normal_service(live_server, scored_run):
    url, _, _, _ = live_server
    data = scored_run.good["odd/lesion.png"]

    def one(_):
        return httpx.post(url + "/api/v1/predict", files={"file": ("a.png", data)}, timeout=60)

    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(one, range(24)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses and 503 in statuses, statuses
    for response in responses:
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "1" and response.json()["reason"] == "overloaded"
    health = httpx.get(url + "/healthz", timeout=10).json()
    assert health["largest_batch"] == 2  # concurrent requests shared model calls
    assert one(0).status_code == 200


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from dermflow.cluster.debian_packages import ensure_binaries

    found = ensure_binaries({"chromium": "chromium", "chromedriver": "chromium-driver"})
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(found["chromium"])
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium_profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(found["chromedriver"])), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_in_a_browser_an_upload_shows_label_bars_and_overlay(live_server, browser, scored_run, scoring_model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    url, _, _, _ = live_server
    image = tmp_path / "lesion.jpg"
    image.write_bytes(scored_run.good[sorted(scored_run.good)[0]])
    browser.get(url + "/")
    assert "not a diagnosis" in browser.find_element(By.ID, "notice").text
    assert [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#classes li")] == scoring_model.labels
    browser.find_element(By.ID, "file").send_keys(str(image))
    WebDriverWait(browser, 60).until(expected_conditions.visibility_of_element_located((By.ID, "result")))
    assert browser.find_element(By.ID, "predicted-label").text in scoring_model.labels
    bars = browser.find_elements(By.CSS_SELECTOR, "#bars .bar")
    assert [bar.get_attribute("data-label") for bar in bars] == scoring_model.labels
    assert sum(float(bar.find_element(By.CLASS_NAME, "value").text.rstrip(" %")) for bar in bars) == pytest.approx(100, abs=0.5)
    overlay = browser.find_element(By.ID, "overlay")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", overlay) > 0
    shown = browser.find_element(By.ID, "image")
    assert overlay.rect == shown.rect and shown.rect["width"] > 100  # the heatmap lies exactly over the image
    assert float(overlay.value_of_css_property("opacity")) == pytest.approx(0.6)
    browser.save_screenshot(str(tmp_path / "upload_page_overlay_60.png"))
    browser.execute_script("const s = document.getElementById('opacity'); s.value = 20; s.dispatchEvent(new Event('input'))")
    assert float(overlay.value_of_css_property("opacity")) == pytest.approx(0.2)
    assert scoring_model.version in browser.find_element(By.ID, "answer-model").text
    browser.save_screenshot(str(tmp_path / "upload_page.png"))
    assert (tmp_path / "upload_page.png").stat().st_size > 1000

    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"not an image")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    WebDriverWait(browser, 30).until(expected_conditions.visibility_of_element_located((By.ID, "error")))
    assert "not_an_image" in browser.find_element(By.ID, "error").text


def test_in_a_browser_the_results_page_lists_rows_and_a_label_filter_changes_the_count(live_server, browser, scored_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url, _, _, _ = live_server
    browser.get(url + "/results")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.prediction")
    assert len(rows) == len(scored_run.good) == int(browser.find_element(By.ID, "total").text)
    counts = {cell.get_attribute("data-label"): int(cell.text) for cell in browser.find_elements(By.CSS_SELECTOR, "td.count")}
    label = min(counts, key=counts.get)
    browser.save_screenshot(str(tmp_path / "results_page.png"))
    Select(browser.find_element(By.ID, "label-filter")).select_by_value(label)
    browser.find_element(By.ID, "apply-filters").click()
    WebDriverWait(browser, 30).until(lambda b: f"label={label}" in b.current_url)
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.prediction")) == counts[label] < len(scored_run.good)
    assert int(browser.find_element(By.ID, "total").text) == counts[label]
    thumbs = browser.find_elements(By.CSS_SELECTOR, "img.thumb")
    WebDriverWait(browser, 30).until(lambda b: all(b.execute_script("return arguments[0].complete", t) for t in thumbs))
    assert all(browser.execute_script("return arguments[0].naturalWidth", t) > 0 for t in thumbs)
    browser.save_screenshot(str(tmp_path / "results_filtered.png"))
    assert (tmp_path / "results_page.png").stat().st_size > 1000
