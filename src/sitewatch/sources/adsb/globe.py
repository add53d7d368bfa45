"""A ``globe_history`` day archive (readsb / adsb.lol) read as one stream, in bulk.

Contract: :func:`read_archive` takes a binary stream of the day's tar (its split parts
concatenated, see :class:`ConcatReader`; nothing is unpacked to disk) and yields
:class:`ArchiveBatch` es of ``positions`` / ``aircraft`` rows for the aircraft a
:class:`KeepRule` keeps, plus counters:

* the tar is read in stream order; members ``traces/**/trace_full_<hex>.json`` and
  ``trace_recent_<hex>.json`` are traces, compressed one by one (gzip or zstd, told by their
  magic bytes; plain JSON accepted too); every other member (``heatmap/*``, ``README.txt``,
  the licences) is skipped and counted (``members_skipped``);
* the archive is sniffed once, on its first trace member (the ``readsb-trace`` sniffer);
* traces are read in chunks of about :data:`CHUNK_BYTES` of JSON by
  :func:`~sitewatch.sources.adsb._trace_docs.read_docs` (vectorised, exact), in ``workers``
  threads when asked; results come back in archive order, at most ``workers + 1 +``
  :data:`AHEAD_CHUNKS` chunks in flight, so the threads keep reading while the store appends
  (memory stays bounded whatever the archive's size);
* a member that is not a readable trace (broken JSON, cut gzip, not JSON) is a reject of
  that member (quarantined with its reason, path ``archive!member``); the others are kept.

A :class:`KeepRule` keeps an aircraft when one of its points lies within ``margin_km`` of
a watched site's watch area (distance to the site's point minus its radius), optionally
only military ones or those of the watch types, or every aircraft (``keep_all``).
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any, cast

import numpy as np
import pyarrow as pa

from sitewatch.errors import FormatError, InputError
from sitewatch.sources.adsb._trace_cols import HasPoints
from sitewatch.sources.adsb._trace_docs import DocInfo, read_docs
from sitewatch.sources.base import Batch, Reject

_inflate: ModuleType = zlib
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error,)
try:  # ISA-L's inflate (python-isal): the same bytes and the same refusals as zlib's, ≈ 2.5× faster
    from isal import isal_zlib

    _inflate, _INFLATE_ERRORS = isal_zlib, (zlib.error, cast(type[Exception], isal_zlib.error))
except ImportError:  # a platform without its wheel: zlib
    pass

CHUNK_BYTES = 8 << 20  # JSON text per chunk (about 45,000 trace points: big enough for threads, small for caches)
BATCH_ROWS = 250_000  # rows per batch handed to the store
AHEAD_CHUNKS = 4  # chunks read ahead beyond one per thread and the next (6 interleaved pairs: 0.54–0.58 → 0.58–0.63 M points/s, +40 MB)
FORMAT = "readsb-trace"
EARTH_RADIUS_KM = 6371.0088
_TRACE_PREFIXES = ("trace_full_", "trace_recent_")


@dataclass(frozen=True)
class WatchedArea:
    """A watched site reduced to what the filter needs: its point and radius."""

    name: str
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class KeepRule:
    """Which aircraft of an archive to keep (see the module docstring)."""

    areas: tuple[WatchedArea, ...] = ()
    margin_km: float = 300.0
    military_only: bool = False  # near a site *and* military or of the watch types
    watch_anywhere: bool = False  # also military / watch-type aircraft wherever they fly
    types: frozenset[str] = frozenset()
    keep_all: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"sites": [a.name for a in self.areas], "margin_km": self.margin_km,
                "military_only": self.military_only, "watch_anywhere": self.watch_anywhere,
                "watch_types": sorted(self.types), "keep_all": self.keep_all}

    def __call__(self, cols: HasPoints, info: DocInfo) -> np.ndarray:
        nd = len(info.icao)
        if self.keep_all:
            return np.ones(nd, bool)
        special = info.military | np.array([t in self.types for t in info.typecode], bool)
        near = near_docs(cols, self.areas, self.margin_km, nd)
        keep = near & special if self.military_only else near
        return keep | special if self.watch_anywhere else keep


def near_docs(cols: HasPoints, areas: Iterable[WatchedArea], margin_km: float, nd: int) -> np.ndarray:
    """Per document: does one of its points lie within ``margin_km`` of an area?"""
    hit = np.zeros(nd, bool)
    lat, lon, member = cols.lat, cols.lon, cols.member
    for a in areas:
        reach = a.radius_km + margin_km
        dlat = reach / 111.19 + 1e-9
        box = np.abs(lat - a.lat) <= dlat  # NaN compares False
        coslat = np.cos(np.radians(min(abs(a.lat) + dlat, 89.9)))
        dlon = min(180.0, reach / (111.19 * max(coslat, 1e-6)))
        box &= np.abs((lon - a.lon + 180.0) % 360.0 - 180.0) <= dlon
        idx = np.flatnonzero(box & ~hit[member])
        if not len(idx):
            continue
        p1, p2 = np.radians(lat[idx]), np.radians(a.lat)
        dp, dl = p2 - p1, np.radians(a.lon - lon[idx])
        h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        d_km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        hit[member[idx[d_km <= reach]]] = True
    return hit


@dataclass
class ArchiveBatch(Batch):
    """A :class:`~sitewatch.sources.base.Batch` whose rejects each name their member."""

    reject_paths: list[str] = field(default_factory=list)


class ConcatReader(io.RawIOBase):
    """The files ``paths`` read one after the other as one stream (split tar parts)."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = list(paths)
        self._i = 0
        self._f: io.BufferedReader | None = None
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._i < len(self._paths):
            if self._f is None:
                self._f = open(self._paths[self._i], "rb")
            n = self._f.readinto(b)
            if n:
                self.bytes_read += n
                return n
            self._f.close()
            self._f = None
            self._i += 1
        return 0

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        super().close()


def is_trace_member(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.startswith(_TRACE_PREFIXES) and base.endswith(".json")


def decompress(data: bytes, name: str, limit: int) -> bytes:
    """A member's JSON text: gzip or zstd by magic bytes (else as is); ``ValueError`` when cut/corrupt."""
    if data[:2] == b"\x1f\x8b":
        d = _inflate.decompressobj(wbits=31)
        try:
            out = d.decompress(data, limit + 1)
        except _INFLATE_ERRORS as exc:
            raise ValueError(f"corrupt gzip data ({exc})") from None
        if len(out) > limit:
            raise ValueError(f"more than {limit >> 20} MiB of JSON: not a trace")
        if not d.eof:
            raise ValueError("the gzip data end early (truncated member)")
        return out
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        try:
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as r:
                out = r.read(limit + 1)
        except zstandard.ZstdError as exc:
            raise ValueError(f"corrupt or truncated zstd data ({exc})") from None
        if len(out) > limit:
            raise ValueError(f"more than {limit >> 20} MiB of JSON: not a trace")
        return out
    return data


Member = tuple[str, int, bytes]  # name, byte offset of its data in the tar, raw (compressed) bytes


def _work(chunk: list[Member], rule: KeepRule | None, arch: str) -> tuple[ArchiveBatch, Batch | None]:
    """Read one chunk of members (in a worker process or in this one)."""
    from sitewatch.sources.adsb._trace_docs import MAX_JSON_BYTES

    items: list[tuple[str, bytes]] = []
    where: list[int] = []
    failed: list[tuple[str, int, str]] = []
    for name, offset, data in chunk:
        try:
            items.append((name, decompress(data, name, MAX_JSON_BYTES)))
            where.append(offset)
        except ValueError as exc:
            failed.append((name, offset, str(exc)))
    res = read_docs(items, FORMAT, rule)
    b = res.positions
    paths = [f"{arch}!{items[int(m)][0]}" for m in res.reject_docs]
    rejects = list(b.rejects)
    for m, why in res.failed:  # the member is not a trace: one reject for it, at its byte in the tar
        name, text = items[m]
        rejects.append(Reject(where[m], text[:2000].decode("utf-8", "replace"), why, "byte"))
        paths.append(f"{arch}!{name}")
    for name, offset, why in failed:
        rejects.append(Reject(offset, "", why, "byte"))
        paths.append(f"{arch}!{name}")
    counters = dict(b.counters)
    counters["members_traces"] = len(chunk)
    counters["members_failed"] = len(failed) + len(res.failed)
    counters["members_read_fast"] = res.read_fast
    counters["aircraft_kept"] = len(res.kept_docs)
    out = ArchiveBatch("positions", b.rows, rejects, counters, paths)
    if res.aircraft is not None:
        return out, Batch("aircraft", res.aircraft)
    return out, None


def read_archive(stream: IO[bytes] | io.RawIOBase, name: str, rule: KeepRule | None = None, workers: int = 0,
                 chunk_bytes: int = CHUNK_BYTES) -> Iterator[Batch]:
    """Batches of the traces in the tar ``stream`` (see the module docstring)."""
    pool: Executor | None = None
    if workers > 0:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="globe")
    pending: deque[Future[Any]] = deque()
    counters = {"members_skipped": 0}
    acc = _Merger()
    try:
        for chunk in _chunks(stream, name, counters, chunk_bytes):
            if pool is None:
                yield from acc.add(_work(chunk, rule, name))
                continue
            pending.append(pool.submit(_work, chunk, rule, name))
            while len(pending) > workers + AHEAD_CHUNKS:
                yield from acc.add(pending.popleft().result())
        while pending:
            yield from acc.add(pending.popleft().result())
    finally:
        if pool is not None:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
    yield from acc.flush()
    yield ArchiveBatch("positions", _empty_positions(), [], counters)


class _Merger:
    """Chunks' results gathered into batches of at least :data:`BATCH_ROWS` rows (fewer, larger inserts)."""

    def __init__(self) -> None:
        self.pos: list[ArchiveBatch] = []
        self.ac: list[pa.Table] = []
        self.rows = 0

    def add(self, res: tuple[ArchiveBatch, Batch | None]) -> Iterator[Batch]:
        pos, ac = res
        self.pos.append(pos)
        self.rows += pos.rows.num_rows
        if ac is not None:
            self.ac.append(ac.rows)
        if self.rows >= BATCH_ROWS:
            yield from self.flush()

    def flush(self) -> Iterator[Batch]:
        if self.pos:
            counters: dict[str, int] = {}
            for b in self.pos:
                for k, v in b.counters.items():
                    counters[k] = counters.get(k, 0) + v
            tables = [b.rows for b in self.pos if b.rows.num_rows]  # (an empty one may have other columns)
            yield ArchiveBatch("positions", pa.concat_tables(tables) if tables else _empty_positions(),
                               [r for b in self.pos for r in b.rejects], counters,
                               [p for b in self.pos for p in b.reject_paths])
        if self.ac:
            yield Batch("aircraft", pa.concat_tables(self.ac))
        self.pos, self.ac, self.rows = [], [], 0


def _empty_positions() -> pa.Table:
    from sitewatch.sources.adsb._common import _empty

    return _empty()


def _chunks(stream: IO[bytes] | io.RawIOBase, name: str, counters: dict[str, int], chunk_bytes: int) -> Iterator[list[Member]]:
    """Lists of trace members, about ``chunk_bytes`` of JSON each."""
    chunk: list[Member] = []
    size = 0
    sniffed = False
    try:
        tar = tarfile.open(fileobj=io.BufferedReader(stream, 1 << 20) if isinstance(stream, io.RawIOBase) else stream,
                           mode="r|")
    except tarfile.TarError as exc:
        raise FormatError(f"not a tar archive ({exc}): expected a globe_history day (.tar, or its "
                          ".tar.aa/.tar.ab parts)", path=name) from None
    with tar:
        try:
            for m in tar:
                if not m.isfile():
                    continue
                if not is_trace_member(m.name):
                    counters["members_skipped"] += 1
                    continue
                f = tar.extractfile(m)
                data = f.read() if f is not None else b""
                if not sniffed:
                    _sniff(name, m.name, data)
                    sniffed = True
                chunk.append((m.name, m.offset_data, data))
                size += len(data) * (6 if data[:2] == b"\x1f\x8b" or data[:4] == b"\x28\xb5\x2f\xfd" else 1)
                if size >= chunk_bytes:
                    yield chunk
                    chunk, size = [], 0
        except (tarfile.TarError, EOFError) as exc:
            raise InputError(f"the tar data end early or are corrupt ({exc}); nothing of this archive "
                             "was ingested: download it again", path=name) from None
    if chunk:
        yield chunk


def _sniff(arch: str, member: str, data: bytes) -> None:
    """The first trace member must read as a readsb trace (the whole archive is judged by it)."""
    from sitewatch.sources.adsb.readsb import ReadsbTraceReader

    try:
        if data[:2] == b"\x1f\x8b":
            head = zlib.decompressobj(wbits=31).decompress(data, 1 << 16)
        elif data[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard

            head = zstandard.ZstdDecompressor().decompressobj().decompress(data[:1 << 16])[:1 << 16]
        else:
            head = data[:1 << 16]
    except Exception:
        return
    if ReadsbTraceReader().sniff(head, member.rsplit("/", 1)[-1]) < 0.5:
        raise FormatError(f"{member} is not a readsb trace: not a globe_history archive", path=arch)
