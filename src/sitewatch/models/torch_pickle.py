"""Read a PyTorch checkpoint (``torch.save`` zip) without PyTorch, safely.

A checkpoint is a zip holding ``<root>/data.pkl`` (a pickle of the object tree) and
``<root>/data/<key>`` files with the raw bytes of each tensor storage
(``<root>/byteorder`` says ``little`` or ``big``). :func:`load` unpickles with a
**restricted** unpickler: only the globals listed in :data:`_ALLOWED` resolve, each to a
harmless stand-in; anything else (``os.system``, ``builtins.eval`` …) raises
:class:`~sitewatch.errors.FormatError` naming it, so a malicious file cannot run code.

* tensors (``torch._utils._rebuild_tensor_v2``) become NumPy arrays (copied, C order);
  parameters (``_rebuild_parameter``) become their data;
* ``torch.nn`` and ``ultralytics`` modules become :class:`Module` records: the class
  path and the instance ``__dict__`` (``_modules``, ``_parameters``, ``_buffers``, and
  plain attributes such as ``stride`` or ``f``), which is all a graph builder needs.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.errors import FormatError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_MODULE_PREFIXES = ("torch.nn.modules.", "ultralytics.nn.")


@dataclass
class Module:
    """Stand-in for an ``nn.Module``: its class path and unpickled instance state."""

    cls: str
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.cls.rsplit(".", 1)[-1]

    @property
    def children(self) -> dict[str, Module]:
        mods: dict[str, Module] = self.state.get("_modules", {})
        return mods

    def child(self, name: str) -> Module:
        try:
            return self.children[name]
        except KeyError:
            raise FormatError(f"{self.cls} has no submodule {name!r}") from None

    def param(self, name: str) -> np.ndarray[Any, Any] | None:
        for bucket in ("_parameters", "_buffers"):
            v = self.state.get(bucket, {}).get(name)
            if v is not None:
                return np.asarray(v)
        return None

    def attr(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)

    def __setstate__(self, state: Any) -> None:  # pickle BUILD
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slotstate)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = dict(state) if isinstance(state, dict) else {"_state": state}


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass(frozen=True)
class _AttrRef:
    """What ``getattr(Class, 'name')`` in the pickle stood for (never called)."""

    owner: str
    name: str


def _module_class(path: str) -> type:
    def new(cls: type, *args: Any) -> Module:
        return Module(path)

    return type("Module_" + path.rsplit(".", 1)[-1], (), {"__new__": new, "path": path})


def _rebuild_tensor_v2(storage: np.ndarray[Any, Any], offset: int, size: tuple[int, ...],
                       stride: tuple[int, ...], *_: Any) -> np.ndarray[Any, Any]:
    n_items = storage.size
    if size and offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) >= n_items:
        raise FormatError(f"tensor of size {tuple(size)} runs past its storage ({n_items} items)")
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride))
    return np.array(view, copy=True)


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    return data


def _safe_getattr(owner: Any, name: str) -> _AttrRef:
    return _AttrRef(getattr(owner, "path", type(owner).__name__), str(name))


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): dict,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("builtins", "getattr"): _safe_getattr,
    ("__builtin__", "getattr"): _safe_getattr,
    ("torch", "Size"): tuple,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, storage_reader: Any) -> None:
        super().__init__(io.BytesIO(data))
        self._read_storage = storage_reader

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module.startswith(_MODULE_PREFIXES) and name[:1].isupper():
            return _module_class(f"{module}.{name}")
        raise FormatError(
            f"checkpoint refers to {module}.{name}, which is not on the allow-list of a model "
            "checkpoint; refusing to load it (it could run code)"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise FormatError(f"unknown persistent id in checkpoint: {pid!r}")
        stype, key = pid[1], str(pid[2])
        if not isinstance(stype, _StorageType):
            raise FormatError(f"unknown storage type {stype!r}")
        return self._read_storage(key, stype.name)


def load(path: str | Path) -> Any:
    """Unpickle the checkpoint at ``path`` into dicts, :class:`Module` records and arrays."""
    p = Path(path)
    try:
        z = zipfile.ZipFile(p)
    except (OSError, zipfile.BadZipFile) as exc:
        raise FormatError(f"not a PyTorch zip checkpoint ({exc})", path=str(p)) from None
    with z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl:
            raise FormatError("no data.pkl in the checkpoint zip", path=str(p))
        root = pkl[0][: -len("data.pkl")]
        big = root + "byteorder" in names and z.read(root + "byteorder").strip() == b"big"
        cache: dict[str, np.ndarray[Any, Any]] = {}

        def read_storage(key: str, stype: str) -> np.ndarray[Any, Any]:
            if key not in cache:
                try:
                    raw = z.read(f"{root}data/{key}")
                except KeyError:
                    raise FormatError(f"storage {key} missing from the checkpoint", path=str(p)) from None
                dt = np.dtype(_STORAGE_DTYPES[stype]).newbyteorder(">" if big else "<")
                cache[key] = np.frombuffer(raw, dtype=dt)
            return cache[key]

        try:
            return _Unpickler(z.read(pkl[0]), read_storage).load()
        except FormatError as exc:
            raise FormatError(str(exc), path=str(p)) from None
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"cannot unpickle the checkpoint ({exc})", path=str(p)) from None
