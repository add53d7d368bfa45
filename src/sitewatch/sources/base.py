"""What every format reader is, how readers register, and how inputs are opened.

A *reader* turns one logical input file into Arrow record batches for one store table,
plus the records it had to reject. Readers know nothing of sites or analytics.

Bad-record policy (every reader follows it): a record that cannot be parsed is never
dropped silently and never stops the file: it is returned as a :class:`Reject` with its
line number (text) or byte offset (binary), its raw text and the reason, and the store
puts it in the ``quarantine`` table. A file that is not in the reader's format at all
raises :class:`~sitewatch.errors.FormatError` naming it.

Inputs: :func:`iter_inputs` expands folders, ``.gz``/``.zst``/``.bz2``/``.xz`` files and
``.tar``/``.tar.gz``/``.tgz``/``.tar.zst`` archives into :class:`InputFile` objects that
stream their (decompressed) bytes; nothing is unpacked to disk.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol, runtime_checkable

import pyarrow as pa

from sitewatch.errors import FormatError, InputError

SNIFF_BYTES = 64 * 1024


class Reject(NamedTuple):
    """One record that could not be used (a named tuple: ingest makes one per bad record)."""

    offset: int
    raw: str
    reason: str
    offset_unit: str = "line"


def seekable(f: IO[bytes]) -> IO[bytes]:
    """``f`` itself when it can seek (a plain file), else its bytes in memory (a stream out of
    a compressed file or an archive): what a format read from its end, like Parquet, needs."""
    return f if hasattr(f, "seek") and f.seekable() else io.BytesIO(f.read())


def rejects_of(offsets: Iterable[int], raws: Iterable[str], reasons: Iterable[str],
               offset_unit: str = "line") -> list[Reject]:
    """Many :class:`Reject` at once (columns in, tuples out: what a bulk decoder needs)."""
    return list(map(_new_reject, zip(offsets, raws, reasons, repeat(offset_unit))))


_new_reject = partial(tuple.__new__, Reject)


@dataclass
class Batch:
    """Rows for one table, the records rejected while producing them, and counters."""

    table: str
    rows: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadOptions:
    """Options that change how a file is read (recorded with each ingested file)."""

    start: datetime | None = None  # time origin for files whose records carry none
    reference: tuple[float, float] | None = None  # (lat, lon) for surface/local CPR decoding
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.start is not None:
            out["start"] = self.start.isoformat()
        if self.reference is not None:
            out["reference"] = list(self.reference)
        out.update({k: v for k, v in self.extra.items() if _jsonable(v)})
        return out


def _jsonable(v: object) -> bool:
    return isinstance(v, str | int | float | bool | type(None) | list | dict)


@dataclass
class InputFile:
    """One logical input: a plain file, a decompressed file, or an archive member."""

    name: str  # path as shown to users: "a.tar.gz!day/trace_full_abc.json"
    opener: Callable[[], IO[bytes]]
    size_bytes: int | None = None
    _sha256: str | None = None

    def open(self) -> IO[bytes]:
        """A fresh binary stream of the decompressed content."""
        return self.opener()

    def head(self, n: int = SNIFF_BYTES) -> bytes:
        with self.open() as f:
            return f.read(n)

    @property
    def basename(self) -> str:
        return self.name.rsplit("!", 1)[-1].rsplit("/", 1)[-1]

    def sha256(self) -> str:
        """Content hash of the decompressed bytes (streamed, computed once)."""
        if self._sha256 is None:
            h = hashlib.sha256()
            n = 0
            with self.open() as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    n += len(chunk)
            self._sha256 = h.hexdigest()
            self.size_bytes = n
        return self._sha256


@runtime_checkable
class Reader(Protocol):
    """A format reader. Register with :func:`register`."""

    kind: str  # 'adsb', 'ais', 'imagery', 'observations'
    name: str  # format name as given to --format

    def sniff(self, head: bytes, name: str) -> float:
        """How sure (0..1) that a file starting with ``head`` and named ``name`` is ours."""
        ...

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        """Yield batches of rows (and rejects) from ``src``."""
        ...


_REGISTRY: dict[str, dict[str, Reader]] = {}


def register(reader_cls: type[Any]) -> type[Any]:
    """Class decorator: instantiate the reader and add it to the registry by kind/name."""
    inst = reader_cls()
    _REGISTRY.setdefault(inst.kind, {})[inst.name] = inst
    return reader_cls


def readers(kind: str) -> dict[str, Reader]:
    """Registered readers of ``kind`` (importing the kind's package registers them)."""
    import importlib

    try:
        importlib.import_module(f"sitewatch.sources.{kind}")
    except ModuleNotFoundError as exc:
        if exc.name != f"sitewatch.sources.{kind}":
            raise
    return dict(_REGISTRY.get(kind, {}))


def detect(kind: str, src: InputFile, fmt: str = "auto") -> Reader:
    """The reader for ``src``: the one named ``fmt``, or the best sniffer when ``auto``."""
    regs = readers(kind)
    if fmt != "auto":
        if fmt not in regs:
            raise InputError(
                f"unknown {kind} format {fmt!r}; choose one of: auto, {', '.join(sorted(regs))}"
            )
        return regs[fmt]
    head = src.head()
    scored = sorted(((r.sniff(head, src.basename), n) for n, r in regs.items()), reverse=True)
    if not scored or scored[0][0] <= 0.0:
        preview = head[:60].decode("utf-8", "replace").replace("\n", "\\n")
        raise FormatError(
            f"not a {kind} file in any known format (starts with {preview!r}); "
            f"pass --format with one of: {', '.join(sorted(regs))}",
            path=src.name,
        )
    return regs[scored[0][1]]


# -- opening inputs --------------------------------------------------------------------

_COMPRESSED: dict[str, Callable[[IO[bytes]], IO[bytes]]] = {}


def _zstd_open(raw: IO[bytes]) -> IO[bytes]:
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)  # type: ignore[no-any-return]


def _magic_decompressor(head: bytes) -> Callable[[IO[bytes]], IO[bytes]] | None:
    if head[:2] == b"\x1f\x8b":
        return lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return _zstd_open
    if head[:3] == b"BZh":
        return lambda raw: bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    if head[:6] == b"\xfd7zXZ\x00":
        return lambda raw: lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]
    return None


def _is_tar(stream_head: bytes) -> bool:
    return len(stream_head) >= 262 and stream_head[257:262] == b"ustar"


def iter_inputs(paths: Iterable[str | Path], recursive: bool = True) -> Iterator[InputFile]:
    """Expand user paths into logical input files (folders walked, archives opened)."""
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise InputError("no such file or folder; check the path", path=str(path))
        if path.is_dir():
            walker = sorted(path.rglob("*") if recursive else path.iterdir())
            for child in walker:
                if child.is_file() and not child.name.startswith("."):
                    yield from _open_file(child)
        else:
            yield from _open_file(path)


def _open_file(path: Path) -> Iterator[InputFile]:
    with open(path, "rb") as f:
        head = f.read(512)
    dec = _magic_decompressor(head)

    def opener() -> IO[bytes]:
        raw = open(path, "rb")
        return dec(raw) if dec else raw

    inner_head = head
    if dec is not None:
        with opener() as stream:
            inner_head = stream.read(512)
    if _is_tar(inner_head):
        yield from _tar_members(str(path), opener)
        return
    name = str(path)
    size = None if dec else os.path.getsize(path)
    yield InputFile(name, opener, size)


def _tar_members(name: str, opener: Callable[[], IO[bytes]]) -> Iterator[InputFile]:
    # Stream mode ("r|") reads members in order without seeking; each member's bytes are
    # read once into memory only for members below the limit, larger ones are re-streamed.
    with opener() as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        for member in tar:
            if not member.isfile() or member.name.rsplit("/", 1)[-1].startswith("."):
                continue
            mname = f"{name}!{member.name}"
            if member.size <= 64 * 1024 * 1024:
                fobj = tar.extractfile(member)
                data = fobj.read() if fobj else b""
                inner = _magic_decompressor(data[:8])
                if inner is not None:
                    data = inner(io.BytesIO(data)).read()
                yield InputFile(mname, _bytes_opener(data), len(data))
            else:
                yield InputFile(mname, _member_opener(name, opener, member.name), member.size)


def _bytes_opener(data: bytes) -> Callable[[], IO[bytes]]:
    return lambda: io.BytesIO(data)


def _member_opener(
    name: str, opener: Callable[[], IO[bytes]], member_name: str
) -> Callable[[], IO[bytes]]:
    def open_member() -> IO[bytes]:
        raw = opener()
        tar = tarfile.open(fileobj=raw, mode="r|")
        for m in tar:
            if m.name == member_name:
                f = tar.extractfile(m)
                if f is None:
                    break
                inner = _magic_decompressor(f.peek(8) if hasattr(f, "peek") else b"")
                return inner(f) if inner else f  # type: ignore[arg-type]
        raise InputError(f"member {member_name} vanished from the archive", path=name)

    return open_member


def text_lines(src: InputFile, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(1-based line number, line without newline), decoding errors replaced."""
    with src.open() as f:
        text = io.TextIOWrapper(f, encoding=encoding, errors="replace", newline="")
        for i, line in enumerate(text, start=1):
            yield i, line.rstrip("\r\n")
