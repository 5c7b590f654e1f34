import http.server
import json
import socket
import threading
import time

import pytest

from dermflow.weights import install_imagenet_weights, resolve_mobilenet_v2_weights
from dermflow.weights.imagenet_weights_installer import (
    ChecksumMismatchError,
    WeightsInstallError,
    download,
)
from dermflow.weights.keras_weights_cache import file_sha256, mobilenet_v2_filename, provenance_path


@pytest.fixture
def silent_server():
    """Accepts connections and never answers: a network that drops packets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    server.close()


@pytest.fixture
def closed_port_url():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def weights_server():
    """Serves every requested name with the same small body, like a mirror of Keras's weights folder."""
    body = b"fake h5 bytes"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", body
    server.shutdown()
    server.server_close()


def test_download_cannot_hang_on_a_silent_network(tmp_path, silent_server):
    started = time.monotonic()
    with pytest.raises(OSError):
        download(silent_server + "w.h5", tmp_path / "w.h5", timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert not (tmp_path / "w.h5").exists()
    assert list(tmp_path.iterdir()) == []


def test_keras_route_writes_files_and_provenance(tmp_path, weights_server):
    url, body = weights_server
    paths = install_imagenet_weights(rows=[160], source="keras", keras_home=tmp_path, keras_url=url)
    assert [p.name for p in paths] == [mobilenet_v2_filename(1.0, 160, False), mobilenet_v2_filename(1.0, 160, True)]
    for path in paths:
        assert path.read_bytes() == body
        provenance = json.loads(provenance_path(path).read_text())
        assert provenance["source"] == "keras"
        assert provenance["preprocessing"] == "tf"
        assert provenance["sha256"] == file_sha256(path)
        assert provenance["origin"] == url + path.name
        assert provenance["date"]
    assert resolve_mobilenet_v2_weights("imagenet", 1.0, 160, keras_home=tmp_path).preprocessing == "tf"


def test_second_install_is_a_no_op(tmp_path, weights_server, silent_server):
    url, _ = weights_server
    first = install_imagenet_weights(rows=[96], source="keras", keras_home=tmp_path, keras_url=url)
    stamps = [p.stat().st_mtime_ns for p in first]
    started = time.monotonic()
    # Any network attempt would now wait on the silent server and then fail.
    second = install_imagenet_weights(rows=[96], source="keras", keras_home=tmp_path, keras_url=silent_server)
    assert second == first
    assert [p.stat().st_mtime_ns for p in second] == stamps
    assert time.monotonic() - started < 1


def test_a_tampered_file_is_not_accepted_as_installed(tmp_path, weights_server, closed_port_url):
    url, _ = weights_server
    path = install_imagenet_weights(rows=[96], source="keras", keras_home=tmp_path, keras_url=url)[0]
    path.write_bytes(b"something else")
    with pytest.raises(WeightsInstallError):
        install_imagenet_weights(rows=[96], source="keras", keras_home=tmp_path, keras_url=closed_port_url)


def test_nothing_reachable_is_a_clear_error(tmp_path, closed_port_url):
    with pytest.raises(WeightsInstallError) as excinfo:
        install_imagenet_weights(rows=[224], source="keras", keras_home=tmp_path, keras_url=closed_port_url)
    message = str(excinfo.value)
    assert "Keras download from " + closed_port_url in message
    assert "--checkpoint" in message
    assert not list((tmp_path / "models").glob("*.h5"))


def test_checkpoint_with_wrong_sha256_is_refused(tmp_path):
    checkpoint = tmp_path / "mobilenet_v2-b0353104.pth"
    checkpoint.write_bytes(b"not torchvision's file")
    with pytest.raises(ChecksumMismatchError, match="sha256") as excinfo:
        install_imagenet_weights(rows=[224], source="torchvision", checkpoint=checkpoint, keras_home=tmp_path / "kh")
    assert file_sha256(checkpoint) in str(excinfo.value)
    assert not list((tmp_path / "kh" / "models").glob("*.h5"))


def test_torchvision_route_has_alpha_one_only(tmp_path):
    checkpoint = tmp_path / "x.pth"
    checkpoint.write_bytes(b"x")
    with pytest.raises(WeightsInstallError, match="alpha 1.0 only"):
        install_imagenet_weights(alpha=0.35, rows=[224], source="torchvision", checkpoint=checkpoint, keras_home=tmp_path)
