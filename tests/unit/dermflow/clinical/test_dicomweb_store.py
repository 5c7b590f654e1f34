"""The store's retry policy against a small local HTTP server (the real PACS is in tests/e2e: Orthanc)."""
import http.server
import io
import threading

import pytest

from support.clinical_fixtures import finding, source_header
from dermflow.clinical.dicomweb_store import DicomwebStore, FailureReason, StoreStatus
from dermflow.clinical.sr_writer import build_sr
from dermflow.cluster.managed_process import free_port


class _Pacs(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    posts = 0

    def do_POST(self):
        type(self).posts += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def pacs():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pacs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Pacs.posts = 0
    yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    server.shutdown()
    server.server_close()


def _sr_bytes() -> bytes:
    buffer = io.BytesIO()
    build_sr(source_header(), finding()).save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _store(url, waits, attempts=3):
    return DicomwebStore(url, None, attempts=attempts, backoff_seconds=0.25, sleep=waits.append)


def test_a_refused_store_is_retried_with_backoff_until_it_is_stored(pacs):
    _Pacs.answers = [503, 503]
    waits = []
    outcome = _store(pacs, waits).store([_sr_bytes()])
    assert (outcome.status, outcome.attempts, _Pacs.posts, waits) == (StoreStatus.STORED, 3, 3, [0.25, 0.5])


def test_bad_credentials_are_not_retried(pacs):
    _Pacs.answers = [401]
    outcome = _store(pacs, []).store([_sr_bytes()])
    assert (outcome.status, outcome.reason, outcome.attempts, _Pacs.posts) == (StoreStatus.FAILED, FailureReason.PACS_AUTH, 1, 1)
    assert outcome.message == "STOW-RS answered HTTP 401"


def test_a_pacs_that_is_gone_fails_after_every_attempt():
    waits = []
    outcome = _store(f"http://127.0.0.1:{free_port()}/dicom-web", waits, attempts=2).store([_sr_bytes()])
    assert (outcome.status, outcome.reason, outcome.attempts, waits) == (StoreStatus.FAILED, FailureReason.PACS_UNREACHABLE, 2, [0.25])
    assert "ConnectionError" in outcome.message and "1.2." not in outcome.message
