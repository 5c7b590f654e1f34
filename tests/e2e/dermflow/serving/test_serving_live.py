"""A real `dermflow serve` (uvicorn on 127.0.0.1, its own TMPDIR): nothing kept, a burst, and a real browser."""
from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from serving_inputs import DICOM_UID, PATIENT_ID, PATIENT_NAME, screenshot

pytestmark = pytest.mark.e2e

def test_a_5_mb_upload_leaves_no_file_behind(live_server):
    url, server_tmp = live_server.url, live_server.tmp
    before = sorted(server_tmp.rglob("*"))
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
    url, log = live_server.url, live_server.log
    for name in ("odd/patient.dcm", "bad/truncated.jpg"):
        data = scored_run.good.get(name) or scored_run.bad[name][0]
        httpx.post(url + "/api/v1/predict", files={"file": (f"{PATIENT_NAME}.dcm", data)}, timeout=60)
    text = log.read_text(errors="replace")
    assert "POST /api/v1/predict" in text  # the log is there, and it is uvicorn's
    for secret in (PATIENT_NAME, "Wilhelmina", PATIENT_ID, DICOM_UID):
        assert secret not in text


def test_a_burst_bigger_than_the_queue_gets_answers_or_503_then_normal_service(live_server, scored_run):
    url = live_server.url
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


PERCENT = re.compile(r"^(<1 %|>99 %|\d{1,3} %)$")


def test_in_a_browser_an_upload_shows_the_reading_bars_and_overlay(live_server, browser, scored_run, trusted_model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    image = tmp_path / "lesion.jpg"
    image.write_bytes(scored_run.good[sorted(scored_run.good)[0]])
    browser.delete_all_cookies()
    browser.get(live_server.url + "/")
    assert "not a diagnosis" in browser.find_element(By.ID, "notice").text
    classes = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#classes li")]
    assert classes == ["melanoma (MEL)", "melanocytic nevus (NV)", "basal cell carcinoma (BCC)"]
    browser.find_element(By.ID, "file").send_keys(str(image))
    WebDriverWait(browser, 60).until(expected_conditions.visibility_of_element_located((By.ID, "result")))
    assert browser.find_element(By.ID, "headline-text").text
    bars = browser.find_elements(By.CSS_SELECTOR, "#result .bar")
    assert [bar.get_attribute("data-label") for bar in bars] == trusted_model.labels
    assert all(PERCENT.match(bar.find_element(By.CLASS_NAME, "value").get_attribute("textContent")) for bar in bars)
    overlay = browser.find_element(By.ID, "overlay")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", overlay) > 0
    under = browser.find_element(By.ID, "image-under")
    assert overlay.rect == under.rect and under.rect["width"] > 100  # the heatmap lies exactly over the image
    original = browser.find_element(By.ID, "image")
    assert original.rect["x"] + original.rect["width"] <= under.rect["x"]  # side by side
    assert float(overlay.value_of_css_property("opacity")) == pytest.approx(0.6)
    browser.execute_script("const s = document.getElementById('opacity'); s.value = 20; s.dispatchEvent(new Event('input'))")
    assert float(overlay.value_of_css_property("opacity")) == pytest.approx(0.2)
    assert trusted_model.version in browser.find_element(By.ID, "answer-model").text
    assert browser.find_element(By.ID, "report-link").get_attribute("href").endswith(f"/models/{trusted_model.version}/report")

    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"not an image")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    WebDriverWait(browser, 30).until(expected_conditions.visibility_of_element_located((By.ID, "error")))
    assert "not_an_image" in browser.find_element(By.ID, "error").text


def test_in_a_browser_the_results_page_filters_by_trust_and_its_rows_open_the_result_page(live_server, browser, scored_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(live_server.url + "/results")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.prediction")
    assert len(rows) == len(scored_run.good) == int(browser.find_element(By.ID, "total").text)
    out_of_scope = int(browser.find_element(By.ID, "out-of-scope-count").text)
    assert out_of_scope >= 1  # the photo of coffee at least
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1280  # fits 1280 px
    screenshot(browser, "results_browser.png")
    counts = {cell.get_attribute("data-label"): int(cell.text) for cell in browser.find_elements(By.CSS_SELECTOR, "td.count")}
    label = min(counts, key=counts.get)
    Select(browser.find_element(By.ID, "label-filter")).select_by_value(label)
    browser.find_element(By.ID, "apply-filters").click()
    WebDriverWait(browser, 30).until(lambda b: f"label={label}" in b.current_url)
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.prediction")) == counts[label] < len(scored_run.good)
    thumbs = browser.find_elements(By.CSS_SELECTOR, "img.thumb")
    WebDriverWait(browser, 30).until(lambda b: all(b.execute_script("return arguments[0].complete", t) for t in thumbs))
    assert all(browser.execute_script("return arguments[0].naturalWidth", t) > 0 for t in thumbs)

    browser.get(live_server.url + "/results?scope=out")
    flagged = browser.find_elements(By.CSS_SELECTOR, "tr.prediction")
    assert len(flagged) == out_of_scope
    assert all(row.find_element(By.CSS_SELECTOR, ".kind").get_attribute("data-kind") == "out_of_scope" for row in flagged)
    flagged[0].find_element(By.CSS_SELECTOR, "td.reading").click()  # a row opens its result page
    WebDriverWait(browser, 30).until(lambda b: "/results/" in b.current_url and "scope=" not in b.current_url)
    assert browser.find_element(By.ID, "headline-text").text == "Outside what this model knows"
    original, overlay = browser.find_element(By.ID, "original"), browser.find_element(By.ID, "overlay")
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return arguments[0].naturalWidth", overlay) > 0)
    assert original.rect["x"] + original.rect["width"] <= overlay.rect["x"]  # side by side
    assert browser.find_element(By.CSS_SELECTOR, ".colour-scale .jet").is_displayed()
    assert browser.find_element(By.ID, "opacity").location["y"] > overlay.location["y"]  # the slider under the image

    browser.get(live_server.url + "/results?prediction_set=one&sort=p:MEL")
    browser.find_element(By.CSS_SELECTOR, "tr.prediction td.path a").click()
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "headline-text"))
    assert browser.find_element(By.ID, "headline-text").text.startswith("Most likely ")
    assert browser.find_element(By.ID, "prediction-set-text").text.endswith("of the time (among the model's own classes).")
    attention = browser.find_element(By.ID, "attention-text").text  # where the Grad-CAM lies against the lesion mask
    assert attention.startswith("Grad-CAM on the lesion: ") or attention.startswith("No lesion outline was found")
    overlay = browser.find_element(By.ID, "overlay")
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return arguments[0].naturalWidth", overlay) > 0)
    screenshot(browser, "result_page_lesion.png")


def test_in_a_browser_the_monitoring_view_marks_a_drifted_run(live_server, browser, scored_run):
    """Two checked runs written beside the scored one, as `dermflow score` writes them: the later one drifted."""
    from datetime import datetime, timezone

    from selenium.webdriver.common.by import By

    from dermflow.config import load_config
    from dermflow.monitoring.drift_baseline import DriftBaseline
    from dermflow.monitoring.run_drift import check_run
    from dermflow.pipelines.scoring.run_monitoring import write_monitoring
    from support.monitored_rows import monitored_rows

    cfg = load_config().drift
    baseline = DriftBaseline(monitored_rows(600, seed=1), "test", "")
    for day, (run_id, rows) in enumerate((("week-1", monitored_rows(200, seed=2)),
                                          ("week-2", monitored_rows(200, seed=3, brightness=90.0, flagged=0.2))), start=1):
        write_monitoring(str(scored_run.output), run_id, check_run(rows, baseline, cfg, "m/v1"), "m", "v1",
                         datetime(2026, 12, day, tzinfo=timezone.utc))

    browser.get(live_server.url + "/monitoring")
    rows = {row.get_attribute("data-run"): row for row in browser.find_elements(By.CSS_SELECTOR, "#monitoring-runs tbody tr")}
    assert {"week-1", "week-2"} <= set(rows)
    assert "drifted" in rows["week-2"].get_attribute("class") and "mean_brightness" in rows["week-2"].text
    assert "drifted" not in rows["week-1"].get_attribute("class") and "none found" in rows["week-1"].text
    dots = {dot.get_attribute("data-run"): dot.get_attribute("fill") for dot in browser.find_elements(By.CSS_SELECTOR, "#out-of-scope-plot circle")}
    assert dots["week-2"] == "#c0392b" and dots["week-1"] != "#c0392b"
    screenshot(browser, "monitoring.png")
