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
stream their (decompressed) bytes; nothing is unpacked to disk. A compressed file or archive
cut short (an interrupted download) or corrupt raises :class:`~sitewatch.errors.InputError`
naming it and the byte where its data end (:mod:`sitewatch.sources.compressed`) when it is
read; where that happens while the inputs are being listed (a file too short to sniff, an
archive's member), the :class:`InputFile` yielded for it raises that error when opened, so
the other inputs of the same call are still read.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol, cast, runtime_checkable

import pyarrow as pa

from sitewatch.errors import FormatError, InputError, SitewatchError
from sitewatch.sources.compressed import Guarded, codec_of, open_decompressed

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
_DISCOVERED: set[str] = set()


def register(reader_cls: type[Any]) -> type[Any]:
    """Class decorator: instantiate the reader and add it to the registry by kind/name."""
    inst = reader_cls()
    _REGISTRY.setdefault(inst.kind, {})[inst.name] = inst
    return reader_cls


def readers(kind: str) -> dict[str, Reader]:
    """Registered readers of ``kind``: every public module of ``sitewatch.sources.<kind>`` is
    imported once (a module registers its readers with :func:`register`), so a new format is
    one new module — no list to edit."""
    import importlib
    import pkgutil

    if kind not in _DISCOVERED:
        try:
            pkg = importlib.import_module(f"sitewatch.sources.{kind}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sitewatch.sources.{kind}":
                raise
        else:
            for m in sorted(pkgutil.iter_modules(getattr(pkg, "__path__", [])), key=lambda m: m.name):
                if not m.name.startswith("_"):
                    importlib.import_module(f"{pkg.__name__}.{m.name}")
        _DISCOVERED.add(kind)
    return dict(_REGISTRY.get(kind, {}))


def formats(kind: str) -> list[str]:
    """The ``--format`` names of ``kind``: its registered readers, in name order (readers that
    only sniffing may choose, ``selectable = False``, left out)."""
    return sorted(n for n, r in readers(kind).items() if getattr(r, "selectable", True))


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
        raise FormatError(
            f"not {'an' if kind[:1] in 'aeio' else 'a'} {kind} file in any known format ({preview(head)}); "
            f"pass --format with one of: {', '.join(sorted(regs))}",
            path=src.name,
        )
    return regs[scored[0][1]]


def finite_number(v: Any) -> float | None:
    """A JSON number as a finite float; ``None`` for anything else — a boolean, a string, NaN,
    ±inf (JSON's ``Infinity``, ``1e400``) and an integer too large for a float (``float()`` of it
    raises ``OverflowError``): what a reader of third-party JSON checks a number with, so that a
    hostile value empties a field or quarantines a record, never stops the reader."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def preview(head: bytes, n: int = 60) -> str:
    """How a file starts, for an error message: text quoted, binary data as its first bytes in
    hex (not sixty escaped control characters)."""
    if not head:
        return "the file is empty"
    text = head[:n].decode("utf-8", "replace")
    odd = sum(1 for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\t\r\n"))
    if odd > len(text) // 10:
        return f"starts with binary data {head[:16].hex(' ')}{' …' if len(head) > 16 else ''}"
    return f"starts with {text!r}"


# -- opening inputs --------------------------------------------------------------------

def _is_tar(stream_head: bytes) -> bool:
    return len(stream_head) >= 262 and stream_head[257:262] == b"ustar"


def _is_zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")  # a member first, or an empty archive


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
    name = str(path)
    with open(path, "rb") as f:
        head = f.read(512)
    codec = codec_of(head)
    file_size = os.path.getsize(path)

    def opener() -> IO[bytes]:
        raw = open(path, "rb")
        return open_decompressed(raw, codec, name, file_size) if codec else raw

    if codec is None and _is_zip(head):
        yield from _zip_members(name, path)
        return
    inner_head = head
    if codec is not None:
        try:
            with opener() as stream:
                inner_head = stream.read(512)
        except SitewatchError as exc:  # cut or corrupt within its first bytes
            yield broken_input(name, exc)
            return
    if _is_tar(inner_head):
        yield from _tar_members(name, opener, file_size)
        return
    yield InputFile(name, opener, None if codec else file_size)


def broken_input(name: str, exc: SitewatchError) -> InputFile:
    """An input that could not even be listed: opening it raises ``exc`` (which names it)."""

    def fail() -> IO[bytes]:
        raise exc

    return InputFile(name, fail)


def _tar_members(name: str, opener: Callable[[], IO[bytes]], size: int) -> Iterator[InputFile]:
    # Stream mode ("r|") reads members in order without seeking; each member's bytes are
    # read once into memory only for members below the limit, larger ones are re-streamed.
    # An archive cut short yields the members before the cut, then one input that fails.
    at = name
    try:
        with opener() as raw, tarfile.open(fileobj=_tar_guard(raw, name, size), mode="r|") as tar:
            for member in tar:
                if not member.isfile() or member.name.rsplit("/", 1)[-1].startswith("."):
                    continue
                at = mname = f"{name}!{member.name}"
                if member.size <= MEMBER_IN_MEMORY_BYTES:
                    yield _small_member(mname, tar, member, size)
                else:
                    yield InputFile(mname, _member_opener(name, opener, member.name), member.size)
                at = name
    except SitewatchError as exc:
        yield broken_input(at, exc)
    except tarfile.TarError as exc:
        yield broken_input(at, InputError(f"not a readable tar archive ({exc}); nothing of it was ingested",
                                          path=name))


def _tar_guard(raw: IO[bytes], name: str, size: int) -> IO[bytes]:
    """The archive stream with data errors named (a plain tar is its own raw stream)."""
    return raw if isinstance(raw, Guarded) else cast(IO[bytes], Guarded(raw, name, "tar", size))


def _small_member(mname: str, tar: tarfile.TarFile, member: tarfile.TarInfo, size: int) -> InputFile:
    """A member read into memory (decompressed when it is itself compressed); ``size``: the archive's."""
    fobj = tar.extractfile(member)
    data = Guarded(cast(IO[bytes], fobj), mname, "tar", size).read() if fobj else b""
    codec = codec_of(data[:8])
    if codec is not None:
        try:
            data = open_decompressed(io.BytesIO(data), codec, mname, len(data)).read()
        except SitewatchError as exc:  # this member is cut or corrupt; the next ones may be fine
            return broken_input(mname, exc)
    return InputFile(mname, _bytes_opener(data), len(data))


MEMBER_IN_MEMORY_BYTES = 64 * 1024 * 1024  # archive members up to this size are read into memory once


def _zip_members(name: str, path: Path) -> Iterator[InputFile]:
    """The members of a zip archive, in its directory's order: small ones read into memory
    through the open archive (decompressed when themselves compressed), larger ones opened
    again when read. A zip cut short has lost its directory (at its end): it is one input
    that fails, naming why."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        yield broken_input(name, InputError(
            f"not a readable zip archive ({exc}; a zip cut short, e.g. by an interrupted download, has lost "
            "the list of its members at its end); nothing of it was ingested: download or copy it again",
            path=name))
        return
    with zf:
        for info in zf.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or not base or base.startswith("."):
                continue
            mname = f"{name}!{info.filename}"
            if info.file_size > MEMBER_IN_MEMORY_BYTES:
                yield InputFile(mname, partial(_zip_member_reopened, path, info, mname), None)
                continue
            try:
                with _zip_stream(zf, info, mname) as f:
                    data = f.read()
                codec = codec_of(data[:8])
                if codec is not None:
                    data = open_decompressed(io.BytesIO(data), codec, mname, len(data)).read()
            except SitewatchError as exc:  # this member is corrupt, encrypted …; the next ones may be fine
                yield broken_input(mname, exc)
                continue
            yield InputFile(mname, _bytes_opener(data), len(data))


def _zip_stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, mname: str) -> IO[bytes]:
    """One zip member's stored content (still compressed when itself compressed), its data errors named."""
    try:
        return cast(IO[bytes], Guarded(zf.open(info), mname, "zip", info.compress_size))
    except (RuntimeError, NotImplementedError) as exc:  # encrypted; a compression Python lacks
        raise InputError(f"this zip member cannot be read ({exc}); extract it with another tool and "
                         "ingest the file", path=mname) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"the zip data are corrupt ({exc}); nothing of this file was ingested: download or "
                         "copy it again", path=mname) from None


def _zip_member_reopened(path: Path, info: zipfile.ZipInfo, mname: str) -> IO[bytes]:
    """A large member's content, the archive opened again (decompressed when itself compressed)."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"the zip archive can no longer be read ({exc})", path=mname) from None
    with _zip_stream(zf, info, mname) as f:
        codec = codec_of(f.read(8))
    stream = _zip_stream(zf, info, mname)
    return open_decompressed(stream, codec, mname, info.file_size) if codec else stream


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
                codec = codec_of(f.peek(8) if hasattr(f, "peek") else b"")
                member = cast(IO[bytes], Guarded(cast(IO[bytes], f), f"{name}!{member_name}", "tar"))
                return open_decompressed(member, codec, f"{name}!{member_name}", m.size) if codec else member
        raise InputError(f"member {member_name} vanished from the archive", path=name)

    return open_member


def text_lines(src: InputFile, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(1-based line number, line without newline), decoding errors replaced."""
    with src.open() as f:
        text = io.TextIOWrapper(f, encoding=encoding, errors="replace", newline="")
        for i, line in enumerate(text, start=1):
            yield i, line.rstrip("\r\n")
