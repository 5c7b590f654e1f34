"""What the serving tests share: one scoring run of the trusted test model, one in-process app over it,
one real `dermflow serve` (killed and restarted by the test that needs it) and one headless Chromium."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dermflow.config import load_config
from serving_inputs import LOOPBACK_URL, ScoredRun, add_accounts, make_inputs, serve_config

QUEUE_SIZE = 2


@pytest.fixture(scope="session")
def scored_run(trusted_model, tmp_path_factory) -> ScoredRun:
    """`dermflow score`'s own job over a folder of good and bad files."""
    from dermflow.pipelines.scoring_pipeline import run_scoring

    root = tmp_path_factory.mktemp("serving_scored")
    inputs = root / "inputs"
    good, bad = make_inputs(trusted_model, inputs)
    cfg = load_config(None, ["beam.direct_running_mode=in_memory", "score.min_batch_size=8", "score.max_batch_size=8",
                             "score.gallery_size=0", "score.heatmap_png_size=32"])
    run_scoring(cfg, [str(inputs)], trusted_model.spec, root / "out", run_id="serve-test")
    return ScoredRun(inputs, root / "out", good, bad)


@pytest.fixture(scope="session")
def served_holder(trusted_model):
    """One loaded model shared by the in-process apps (loading it once keeps the tests quick)."""
    from dermflow.serving.served_model import ServedModelHolder

    return ServedModelHolder.start(trusted_model.spec, max_pixels=load_config().score.max_image_pixels)


@pytest.fixture(scope="session")
def client_config(tmp_path_factory):
    cfg = serve_config(tmp_path_factory.mktemp("serve_client"))
    add_accounts(cfg)
    return cfg


@pytest.fixture(scope="session")
def client(trusted_model, scored_run, served_holder, client_config):
    from fastapi.testclient import TestClient

    from dermflow.serving.app_factory import create_app

    app = create_app(client_config, trusted_model.spec, [scored_run.output], [scored_run.inputs], holder=served_holder)
    with TestClient(app, base_url=LOOPBACK_URL) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real `dermflow serve` on 127.0.0.1 with its own TMPDIR and review database; its output in ``log``."""

    def __init__(self, model, scored: ScoredRun, root: Path):
        self.root, self.port = root, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = root / "server_tmp"
        self.tmp.mkdir()
        self.log = root / "server.log"
        self.database = root / "review.sqlite"
        self.command = [
            str(Path(sys.executable).with_name("dermflow")), "serve", "--model", model.spec, "--results", str(scored.output),
            "--source-root", str(scored.inputs), "--port", str(self.port),
            "--set", f"review.database_url=sqlite:///{self.database}", "--set", f"serve.queue_size={QUEUE_SIZE}",
            "--set", "serve.max_batch_size=2", "--set", "serve.batch_wait_ms=300", "--set", "review.audit_share=0.25",
        ]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import httpx

        env = {**os.environ, "TMPDIR": str(self.tmp), "TEMP": str(self.tmp), "TMP": str(self.tmp)}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"the server did not come up:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush but what was committed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def live_server(trusted_model, scored_run, tmp_path_factory) -> LiveServer:
    server = LiveServer(trusted_model, scored_run, tmp_path_factory.mktemp("live_server"))
    add_accounts(serve_config(server.root))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from dermflow.cluster.debian_packages import ensure_binaries

    found = ensure_binaries({"chromium": "chromium", "chromedriver": "chromium-driver"})
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(found["chromium"])
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1400", "--hide-scrollbars",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium_profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(found["chromedriver"])), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
