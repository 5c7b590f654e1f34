"""The clinician's page in a real Chromium against a real `dermflow serve` (issue 26's browser cases):
a photo of coffee is headlined as outside the model; a reviewer works through the queue, records and
corrects a verdict and sees the history; a viewer cannot record; a form without its CSRF token gets 403;
a foreign Host is refused; no password, token or session id reaches the log; verdicts survive a kill;
8 clients record 200 verdicts at once.

The screenshots under docs/images/ (docs/serving.md shows them) are saved by these tests.
"""
from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from serving_inputs import PASSWORDS, coffee_jpeg, screenshot, sign_in

pytestmark = pytest.mark.e2e

CLASS_NAMES = ("melanoma", "melanocytic nevus", "basal cell carcinoma", "MEL", "NV", "BCC")
SEEN: dict[str, str] = {}  # secrets this module sent, looked for in the log at the end


def _sign_in(browser, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.delete_all_cookies()
    browser.get(url + "/login")
    browser.find_element(By.ID, "login-name").send_keys(name)
    browser.find_element(By.ID, "login-password").send_keys(PASSWORDS[name])
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "signed-in-as"))
    SEEN[f"password of {name}"] = PASSWORDS[name]
    SEEN[f"session of {name}"] = browser.get_cookie("dermflow_session")["value"]


def test_a_photo_of_coffee_is_headlined_as_outside_the_model_with_no_class_as_the_answer(live_server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    photo = tmp_path / "coffee.jpg"
    photo.write_bytes(coffee_jpeg())
    browser.delete_all_cookies()
    browser.get(live_server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(photo))
    WebDriverWait(browser, 60).until(expected_conditions.visibility_of_element_located((By.ID, "result")))
    headline = browser.find_element(By.ID, "headline-text").text
    assert headline == "Outside what this model knows"
    assert not any(name in headline for name in CLASS_NAMES)
    assert browser.find_element(By.ID, "headline").get_attribute("data-kind") == "out_of_scope"
    assert "names none of them" in browser.find_element(By.ID, "headline-detail").text
    assert not browser.find_element(By.ID, "prediction-set-text").is_displayed()  # no set is said for it either
    folded = browser.find_element(By.ID, "probabilities-folded")
    assert folded.is_displayed() and folded.get_attribute("open") is None  # the probabilities folded away
    assert not browser.find_element(By.ID, "probabilities-open").is_displayed()
    assert len(folded.find_elements(By.CSS_SELECTOR, ".bar")) == 3
    assert "Less usual than" in browser.find_element(By.ID, "in-scope-text").text
    assert "not meaningful" in browser.find_element(By.ID, "overlay-caption").text
    screenshot(browser, "upload_result.png")


def test_a_reviewer_records_a_verdict_from_the_queue_corrects_it_and_sees_the_history(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    _sign_in(browser, live_server.url, "rita")
    browser.get(live_server.url + "/review/queue")
    entries = browser.find_elements(By.CSS_SELECTOR, "#needs-review tr.queue-entry")
    assert entries and int(browser.find_element(By.ID, "needs-review-total").text) == len(entries)
    audited = browser.find_elements(By.CSS_SELECTOR, "#random-audit tr.queue-entry")
    assert all(e.find_element(By.CSS_SELECTOR, ".reason").get_attribute("data-reason") == "random_audit" for e in audited)
    screenshot(browser, "review_queue.png")
    entry = next(e for e in entries if "coffee" in e.text) if any("coffee" in e.text for e in entries) else entries[0]
    sha256 = entry.get_attribute("data-sha256")
    entry.find_element(By.CSS_SELECTOR, "td.path a").click()
    WebDriverWait(browser, 30).until(lambda b: sha256 in b.current_url)
    assert "reason=" in browser.current_url

    def record(diagnosis: str, basis: str, comment: str) -> None:
        Select(browser.find_element(By.ID, "diagnosis")).select_by_value(diagnosis)
        Select(browser.find_element(By.ID, "basis")).select_by_value(basis)
        browser.find_element(By.ID, "comment").send_keys(comment)
        browser.find_element(By.ID, "record-verdict").click()
        WebDriverWait(browser, 30).until(lambda b: "recorded=" in b.current_url and b.find_elements(By.ID, "verdict-history"))

    browser.find_element(By.ID, "lesion_id").send_keys("L-0007")
    record("NV", "single_expert", "first look")
    rows = browser.find_elements(By.CSS_SELECTOR, "#verdict-history tr.verdict")
    assert len(rows) == 1 and "melanocytic nevus (NV)" in rows[0].text and "L-0007" in rows[0].text
    assert browser.find_element(By.ID, "record-verdict").text == "Record the correction"
    first = browser.current_url
    record("MEL", "histopathology", "biopsy report")
    assert browser.current_url != first
    rows = browser.find_elements(By.CSS_SELECTOR, "#verdict-history tr.verdict")
    assert len(rows) == 2
    assert "verdict-current" in rows[0].get_attribute("class") and "melanoma (MEL)" in rows[0].text
    assert "verdict-superseded" in rows[1].get_attribute("class") and "melanocytic nevus (NV)" in rows[1].text
    assert f"corrects #{rows[1].get_attribute('data-verdict')}" in rows[0].text
    screenshot(browser, "result_page.png")
    browser.get(live_server.url + "/review/queue")
    assert sha256 not in [e.get_attribute("data-sha256") for e in browser.find_elements(By.CSS_SELECTOR, "tr.queue-entry")]
    browser.get(live_server.url + "/review/performance")
    groups = {s.get_attribute("data-group"): s for s in browser.find_elements(By.CSS_SELECTOR, "section.reviewed")}
    assert {"all", "queue"} <= set(groups) and "random_audit" not in groups  # queue cases counted apart from the audit
    assert int(groups["queue"].find_element(By.CSS_SELECTOR, ".n").text) >= 1
    screenshot(browser, "reviewed_cases.png")


def test_the_verdict_form_keeps_each_queue_reason_it_is_opened_with_and_nothing_else(live_server):
    with httpx.Client(base_url=live_server.url, timeout=180) as reviewer:
        sign_in(reviewer, "rita")
        SEEN["session of rita (reasons)"] = reviewer.cookies["dermflow_session"]
        sha256 = re.search(r'href="/results/([0-9a-f]{64})', reviewer.get("/results").text).group(1)

        def recorded_reason(reason: str) -> str:
            page = reviewer.get(f"/results/{sha256}", params={"reason": reason})
            return re.search(r'name="queue_reason" value="([^"]*)"', page.text).group(1)

        for reason in ("out_of_scope", "prediction_set", "melanoma_band", "attention_off_lesion", "random_audit"):
            assert recorded_reason(reason) == reason
        assert recorded_reason("made_up") == "direct"


def test_a_viewer_cannot_record_and_a_form_post_without_its_csrf_token_gets_403(live_server, browser, scored_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _sign_in(browser, live_server.url, "vic")
    browser.get(live_server.url + "/results")
    browser.find_element(By.CSS_SELECTOR, "tr.prediction td.path a").click()
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "verdicts"))
    assert browser.find_elements(By.ID, "cannot-record") and not browser.find_elements(By.ID, "verdict-form")
    sha256 = browser.current_url.split("/results/")[1].split("?")[0]
    with httpx.Client(base_url=live_server.url, timeout=180) as viewer, httpx.Client(base_url=live_server.url, timeout=180) as reviewer:
        viewer_csrf = sign_in(viewer, "vic")
        refused = viewer.post(f"/results/{sha256}/verdicts", data={"csrf_token": viewer_csrf, "diagnosis": "NV", "basis": "consensus"})
        assert refused.status_code == 403 and refused.json()["reason"] == "forbidden"
        reviewer_csrf = sign_in(reviewer, "rita")
        SEEN["session of rita (httpx)"] = reviewer.cookies["dermflow_session"]
        form = {"diagnosis": "NV", "basis": "consensus"}
        without = reviewer.post(f"/results/{sha256}/verdicts", data=form)
        assert without.status_code == 403 and without.json()["reason"] == "csrf_token_missing"
        wrong = reviewer.post(f"/results/{sha256}/verdicts", data={**form, "csrf_token": viewer_csrf})
        assert wrong.status_code == 403
        assert reviewer.post(f"/results/{sha256}/verdicts", data={**form, "csrf_token": reviewer_csrf}).status_code == 303


def _api_token(live_server, name: str) -> str:
    """A token made the way a person makes one: signed in, on the API token page."""
    with httpx.Client(base_url=live_server.url, timeout=180) as web:
        csrf = sign_in(web, name)
        page = web.post("/account/token", data={"csrf_token": csrf})
        token = re.search(r'<code id="new-token">([^<]+)</code>', page.text).group(1)
    SEEN[f"API token of {name}"] = token
    return token


def test_verdicts_survive_a_server_kill_and_restart(live_server):
    token = _api_token(live_server, "rita")
    sha256 = hashlib.sha256(b"survives a kill").hexdigest()
    body = {"sha256": sha256, "diagnosis": "BCC", "basis": "histopathology", "comment": "kept across a kill",
            "shown": {"model_name": "m", "model_version": "v", "predicted_label": "BCC", "probabilities": {"BCC": 0.7, "NV": 0.3}}}
    recorded = httpx.post(live_server.url + "/api/v1/verdicts", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=180)
    assert recorded.status_code == 201, recorded.text
    live_server.kill()
    live_server.start()
    found = httpx.get(live_server.url + "/api/v1/verdicts", params={"sha256": sha256},
                      headers={"Authorization": f"Bearer {token}"}, timeout=180).json()["verdicts"]
    assert [v["id"] for v in found] == [recorded.json()["verdict"]["id"]]


def test_8_clients_record_200_verdicts_at_once_and_all_200_are_there(live_server):
    tokens = [_api_token(live_server, "rita") for _ in range(2)] + [_api_token(live_server, "ada")]
    digests = [hashlib.sha256(f"concurrent {i}".encode()).hexdigest() for i in range(200)]

    def record(i: int) -> int:
        body = {"sha256": digests[i], "diagnosis": "NV", "basis": "consensus", "queue_reason": "direct",
                "shown": {"model_name": "m", "model_version": "v", "predicted_label": "NV", "probabilities": {"NV": 0.8, "MEL": 0.2}}}
        return httpx.post(live_server.url + "/api/v1/verdicts", json=body, timeout=180,
                          headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(record, range(200)))
    assert statuses == [201] * 200
    listed = httpx.get(live_server.url + "/api/v1/verdicts", params={"limit": 10000},
                       headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=180).json()["verdicts"]
    assert set(digests) <= {v["sha256"] for v in listed}


def test_a_foreign_host_is_refused_and_no_password_token_or_session_reaches_the_log(live_server, scored_run):
    for url in ("/results", "/results.csv", "/results/image/odd/lesion.png", "/", "/review/queue"):
        refused = httpx.get(live_server.url + url, headers={"Host": "evil.example.com"}, timeout=30)
        assert refused.status_code == 400 and refused.json()["reason"] == "unknown_host", url
        assert "Content-Security-Policy" in refused.headers
    assert SEEN, "the tests above sent secrets: run the module as a whole"
    text = live_server.log.read_text(errors="replace")
    assert "POST /login" in text and "POST /api/v1/verdicts" in text  # the access log is there
    for what, secret in SEEN.items():
        assert secret not in text, what
