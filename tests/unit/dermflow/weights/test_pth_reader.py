import io
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from dermflow.weights.pth_reader import CheckpointFormatError, UnsafeCheckpointError, read_torch_checkpoint

from torch_checkpoint_writer import LEGACY_HEADERS, FakeTensor, write_legacy_checkpoint, write_zip_checkpoint

WRITERS = {"zip": write_zip_checkpoint, "legacy": write_legacy_checkpoint}


def _state():
    shared = np.arange(12, dtype=np.float32)
    return {
        # a transposed view: size (3, 2), strides (1, 3), starting 6 elements into a shared storage
        "conv.weight": FakeTensor("0", shared, 6, (3, 2), (1, 3)),
        "conv.bias": FakeTensor("0", shared, 0, (4,), (1,)),
        "bn.num_batches_tracked": FakeTensor("1", np.array([7], np.int64), 0, (), ()),
    }


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_reads_tensors_with_offsets_strides_and_dtypes(tmp_path, monkeypatch, layout):
    path = WRITERS[layout](tmp_path / "model.pth", _state(), monkeypatch)
    monkeypatch.undo()  # the reader must not need any torch module
    state = read_torch_checkpoint(path)
    assert list(state) == ["conv.weight", "conv.bias", "bn.num_batches_tracked"]
    np.testing.assert_array_equal(state["conv.weight"], np.arange(6, 12, dtype=np.float32).reshape(2, 3).T)
    np.testing.assert_array_equal(state["conv.bias"], [0, 1, 2, 3])
    assert state["conv.weight"].dtype == np.float32
    assert state["bn.num_batches_tracked"].dtype == np.int64
    assert state["bn.num_batches_tracked"].shape == ()
    assert int(state["bn.num_batches_tracked"]) == 7


def _os_system_payload(marker) -> bytes:
    # What a malicious checkpoint does: GLOBAL os.system, called with a shell command.
    return b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."


def test_payload_is_live_under_plain_pickle(tmp_path):
    # Control: the same bytes do run the command when unpickled without restrictions.
    marker = tmp_path / "pwned-control"
    payload = _os_system_payload(marker)
    subprocess.run([sys.executable, "-c", f"import pickle; pickle.loads({payload!r})"], check=True)
    assert marker.exists()


def test_zip_checkpoint_calling_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", _os_system_payload(marker))
    with pytest.raises(UnsafeCheckpointError, match=r"os\.system"):
        read_torch_checkpoint(path)
    assert not marker.exists()


def test_legacy_checkpoint_calling_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    for header in LEGACY_HEADERS:
        pickle.dump(header, buffer, protocol=2)
    buffer.write(_os_system_payload(marker))
    path = tmp_path / "evil.pth"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeCheckpointError, match=r"os\.system"):
        read_torch_checkpoint(path)
    assert not marker.exists()


def test_other_globals_are_refused_too(tmp_path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(print, protocol=4))
    with pytest.raises(UnsafeCheckpointError, match=r"builtins\.print"):
        read_torch_checkpoint(path)


def test_a_file_that_is_not_a_checkpoint_is_a_format_error(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_bytes(b"just some text\n")
    with pytest.raises(CheckpointFormatError):
        read_torch_checkpoint(path)
