"""Writes small checkpoints in ``torch.save``'s two layouts, without torch (a test helper).

The pickles name the real torch globals (``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``):
stand-in modules are put in ``sys.modules`` only while pickling, so ``pickle`` can name them.
"""
from __future__ import annotations

import io
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}
LEGACY_HEADERS = (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True})


@dataclass
class FakeTensor:
    """A view (offset, size, stride in elements) into a flat storage shared by key."""

    storage_key: str
    storage: np.ndarray
    offset: int
    size: tuple
    stride: tuple


class _Storage:
    def __init__(self, tensor: FakeTensor):
        self.tensor = tensor


class _Pickled:
    def __init__(self, tensor: FakeTensor):
        self.tensor = tensor

    def __reduce__(self):
        t = self.tensor
        return sys.modules["torch._utils"]._rebuild_tensor_v2, (_Storage(t), t.offset, t.size, t.stride, False, OrderedDict())


def _stand_in_torch() -> dict[str, types.ModuleType]:
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("pickled by name only")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in _STORAGE_NAMES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    return {"torch": torch, "torch._utils": utils}


def _dump_state(state: dict, legacy: bool, monkeypatch) -> tuple[bytes, dict[str, np.ndarray]]:
    modules = _stand_in_torch()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    storages: dict[str, np.ndarray] = {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if not isinstance(obj, _Storage):
                return None
            t = obj.tensor
            storages[t.storage_key] = t.storage
            storage_type = getattr(modules["torch"], _STORAGE_NAMES[t.storage.dtype])
            pid = ("storage", storage_type, t.storage_key, "cpu", t.storage.size)
            return pid + (None,) if legacy else pid

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(OrderedDict((k, _Pickled(v)) for k, v in state.items()))
    return buffer.getvalue(), storages


def write_zip_checkpoint(path: Path, state: dict[str, FakeTensor], monkeypatch) -> Path:
    data, storages = _dump_state(state, legacy=False, monkeypatch=monkeypatch)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/byteorder", "little")
        for key, storage in storages.items():
            archive.writestr(f"archive/data/{key}", storage.astype(storage.dtype.newbyteorder("<")).tobytes())
    return path


def write_legacy_checkpoint(path: Path, state: dict[str, FakeTensor], monkeypatch) -> Path:
    data, storages = _dump_state(state, legacy=True, monkeypatch=monkeypatch)
    buffer = io.BytesIO()
    for header in LEGACY_HEADERS:
        pickle.dump(header, buffer, protocol=2)
    buffer.write(data)
    pickle.dump(list(storages), buffer, protocol=2)
    for storage in storages.values():
        buffer.write(struct.pack("<q", storage.size) + storage.astype(storage.dtype.newbyteorder("<")).tobytes())
    path.write_bytes(buffer.getvalue())
    return path
