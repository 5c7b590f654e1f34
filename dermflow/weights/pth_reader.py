"""Reads a PyTorch checkpoint (``torch.save`` of a state dict) into numpy arrays, without torch.

Both layouts ``torch.load`` reads are supported: the zip one (``<name>/data.pkl`` plus one
``<name>/data/<key>`` entry per storage, torch >= 1.6) and the legacy one (a sequence of pickles
followed by the raw storages, which is what torchvision's ``mobilenet_v2-b0353104.pth`` is).

A pickle can call any importable callable, so the unpickler resolves only the few names a
state dict needs, each to a numpy stand-in defined here; any other global is refused with
:class:`UnsafeCheckpointError` before it is imported, let alone called.

    state = read_torch_checkpoint("mobilenet_v2-b0353104.pth")   # {"features.0.0.weight": ndarray, ...}
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype(np.float32),
    "DoubleStorage": np.dtype(np.float64),
    "HalfStorage": np.dtype(np.float16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The checkpoint's pickle asks for a callable a state dict never needs (e.g. ``os.system``)."""


class CheckpointFormatError(ValueError):
    """The file is not a torch checkpoint this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: np.dtype


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int
    view: tuple[str, int, int] | None = None  # legacy storage views: (root key, offset, size)


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


_ALLOWED_CALLABLES: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the names of ``_ALLOWED_CALLABLES`` and the ``torch.*Storage`` types."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_CALLABLES:
            return _ALLOWED_CALLABLES[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        raise UnsafeCheckpointError(
            f"refused to load {module}.{name}: a torch state dict needs only "
            f"{sorted('.'.join(key) for key in _ALLOWED_CALLABLES)} and torch.*Storage types; "
            "this checkpoint's pickle asks for something else, so it is not read"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise UnsafeCheckpointError(f"refused persistent id {pid!r}: only tensor storages are allowed")
        storage_type = pid[1]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointFormatError(f"storage of unsupported type {storage_type!r}")
        if len(pid) == 5:  # zip layout: (storage, type, key, location, numel)
            return _StorageRef(str(pid[2]), storage_type.dtype, int(pid[4]))
        if len(pid) == 6:  # legacy layout: (storage, type, root key, location, numel, view metadata)
            view = None
            if pid[5] is not None:
                view_key, view_offset, view_size = pid[5]
                view = (str(pid[2]), int(view_offset), int(view_size))
            return _StorageRef(str(pid[2]), storage_type.dtype, int(pid[4]), view)
        raise CheckpointFormatError(f"unexpected storage id {pid!r}")


def _unpickle(handle: BinaryIO) -> Any:
    return _RestrictedUnpickler(handle).load()


def read_torch_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """The checkpoint's state dict as {name: numpy array}; raises UnsafeCheckpointError or CheckpointFormatError."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _read_zip_checkpoint(path)
    with open(path, "rb") as handle:
        return _read_legacy_checkpoint(handle)


def _read_zip_checkpoint(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") or name == "data.pkl"]
        if len(pickles) != 1:
            raise CheckpointFormatError(f"{path}: expected one data.pkl in the zip, found {pickles}")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = "little"
        if f"{prefix}byteorder" in archive.namelist():
            byteorder = archive.read(f"{prefix}byteorder").decode("ascii").strip()
        state = _unpickle(io.BytesIO(archive.read(pickles[0])))

        def load_storage(ref: _StorageRef) -> np.ndarray:
            raw = archive.read(f"{prefix}data/{ref.key}")
            return np.frombuffer(raw, dtype=ref.dtype.newbyteorder("<" if byteorder == "little" else ">"))

        return _materialise(state, load_storage)


def _read_legacy_checkpoint(handle: BinaryIO) -> dict[str, np.ndarray]:
    try:
        magic = _unpickle(handle)
    except (pickle.UnpicklingError, EOFError) as exc:
        if isinstance(exc, UnsafeCheckpointError):
            raise
        raise CheckpointFormatError(f"not a torch checkpoint: {exc}") from None
    if magic != LEGACY_MAGIC_NUMBER:
        raise CheckpointFormatError("not a torch checkpoint: wrong magic number")
    if _unpickle(handle) != LEGACY_PROTOCOL_VERSION:
        raise CheckpointFormatError("unsupported legacy torch checkpoint protocol")
    sys_info = _unpickle(handle)
    if not sys_info.get("little_endian", True):
        raise CheckpointFormatError("big-endian legacy checkpoints are not supported")
    state = _unpickle(handle)
    storage_keys = _unpickle(handle)
    storages = {}
    element_sizes = _storage_dtypes_by_key(state)
    for key in storage_keys:
        (numel,) = struct.unpack("<q", handle.read(8))
        dtype = element_sizes[str(key)]
        storages[str(key)] = np.frombuffer(handle.read(numel * dtype.itemsize), dtype=dtype.newbyteorder("<"))

    def load_storage(ref: _StorageRef) -> np.ndarray:
        return storages[ref.key]

    return _materialise(state, load_storage)


def _tensor_refs(obj: Any):
    if isinstance(obj, _TensorRef):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensor_refs(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensor_refs(value)


def _storage_dtypes_by_key(state: Any) -> dict[str, np.dtype]:
    return {ref.storage.key: ref.storage.dtype for ref in _tensor_refs(state)}


def _materialise(state: Any, load_storage) -> dict[str, np.ndarray]:
    if not isinstance(state, dict):
        raise CheckpointFormatError(f"expected a state dict, found {type(state).__name__}")
    cache: dict[str, np.ndarray] = {}

    def storage_array(ref: _StorageRef) -> np.ndarray:
        if ref.key not in cache:
            cache[ref.key] = load_storage(ref)
        array = cache[ref.key]
        if ref.view is not None:
            _, offset, size = ref.view
            array = array[offset : offset + size]
        return array

    def tensor(ref: _TensorRef) -> np.ndarray:
        flat = storage_array(ref.storage)
        itemsize = flat.dtype.itemsize
        needed = ref.offset + 1 + sum((n - 1) * s for n, s in zip(ref.size, ref.stride)) if all(ref.size) else 0
        if needed > flat.size:
            raise CheckpointFormatError(f"tensor of size {ref.size} overruns its storage of {flat.size} elements")
        strided = np.lib.stride_tricks.as_strided(
            flat[ref.offset :], shape=ref.size, strides=tuple(s * itemsize for s in ref.stride), writeable=False
        )
        return np.array(strided, dtype=flat.dtype.newbyteorder("="))

    return {name: tensor(value) for name, value in state.items() if isinstance(value, _TensorRef)}
