"""Many readsb trace documents at once: fast path, reference fallback, aircraft filter, batches.

Contract: :func:`read_docs` takes ``(name, decompressed bytes)`` of trace documents (the
members of a ``globe_history`` tar, or one file) and returns a :class:`DocsResult`: one
``positions`` batch for all of them (each reject knows its document, for the quarantine's
path), the ``aircraft`` rows of the documents kept, and the documents that are not traces at
all (broken JSON, no ``trace`` list, no ``timestamp``: their reason, as the single-file reader
would raise it). Documents are read by :mod:`._trace_fast` when it accepts them, else by the
reference reader (:func:`._trace_cols.from_doc`); the result is the same either way.

``keep(cols, info)`` (optional) decides per document whether its aircraft is kept, from its
points (``cols``) and :class:`DocInfo` (address, type, military flag); documents not kept
are counted as ``not_kept_aircraft`` / ``not_kept_points`` and cost no further work.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch.reference.aircraft_db import military_by_address
from sitewatch.sources.adsb import _trace_fast as fast
from sitewatch.sources.adsb._common import json_num as _num
from sitewatch.sources.adsb._common import json_str as _str
from sitewatch.sources.adsb._trace_cols import (
    HasPoints,
    Points,
    TraceCols,
    concat,
    from_doc,
    take,
    to_batch,
    to_batch_reference,
)
from sitewatch.sources.base import Batch

_TS = pa.timestamp("us", tz="UTC")
MAX_JSON_BYTES = 512 << 20


@dataclass
class DocInfo:
    """What the header of each document says (lists indexed by document)."""

    icao: list[str]
    base_s: np.ndarray
    headers: list[dict[str, Any]]
    military: np.ndarray  # bool: dbFlags bit 1 or a military address block
    typecode: list[str | None]


@dataclass
class DocsResult:
    positions: Batch
    reject_docs: np.ndarray  # per reject of ``positions``: index of its document
    aircraft: pa.Table | None
    failed: list[tuple[int, str]] = field(default_factory=list)  # (document, reason)
    read_fast: int = 0  # documents read by the vectorised path
    kept_docs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


Keep = Callable[[HasPoints, DocInfo], np.ndarray]


def load_json(data: bytes) -> Any:
    """``json.loads`` with the messages of the single-file reader (``ValueError`` subclass out)."""
    if len(data) > MAX_JSON_BYTES:
        raise ValueError("readsb JSON over 512 MiB: not a trace or snapshot")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"broken JSON at character {exc.pos}: {exc.msg} (truncated download?)") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON text ({type(exc).__name__}: {exc})") from None


def _check_doc(doc: Any) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("trace"), list) or "timestamp" not in doc:
        raise ValueError("not a readsb trace: needs an object with icao, timestamp and trace")


def read_docs(items: Sequence[tuple[str, bytes]], fmt: str, keep: Keep | None = None,
              use_fast: bool = True) -> DocsResult:
    """Read the trace documents ``items`` (see the module docstring)."""
    nd = len(items)
    headers: list[dict[str, Any] | None] = [None] * nd
    traces: dict[int, list[Any]] = {}
    failed: list[tuple[int, str]] = []
    split: list[fast.Doc] = []
    split_idx: list[int] = []
    for i, (_, data) in enumerate(items):
        d = fast.split(data) if use_fast and len(data) <= MAX_JSON_BYTES else None
        if d is not None:
            split.append(d)
            split_idx.append(i)
            headers[i] = d.header
    parts: list[TraceCols] = []
    read_fast = 0
    slow: list[int] = [i for i in range(nd) if headers[i] is None]
    fast_doc = np.zeros(nd, bool)
    fast_dropped = np.zeros(nd, bool)
    fast_dropped_pts = 0
    if split:
        finfo = _info([d.header for d in split])
        early: Callable[[Points], np.ndarray] | None = None
        if keep is not None and not getattr(keep, "keep_all", False):  # keep_all: no early look needed
            rule = keep
            early = lambda p: rule(p, finfo)  # noqa: E731
        cols, ok, dropped, dpts = fast.parse(split, early)
        sidx = np.asarray(split_idx, np.int64)
        cols.member = sidx[cols.member]
        parts.append(cols)
        read_fast = int(ok.sum())
        fast_doc[sidx[ok]] = True
        fast_dropped[sidx[dropped]] = True
        fast_dropped_pts = int(dpts.sum())
        for k in np.flatnonzero(~ok):
            slow.append(int(sidx[k]))
            headers[int(sidx[k])] = None
    for i in sorted(slow):
        try:
            doc = load_json(items[i][1])
            _check_doc(doc)
        except ValueError as exc:
            failed.append((i, str(exc)))
            continue
        headers[i] = doc
        traces[i] = doc["trace"]
        parts.append(from_doc(doc["trace"], i))
    cols = _in_doc_order(parts) if parts else from_doc([], 0)
    info = _info(headers)
    counters: dict[str, int] = {}
    ok_docs = np.array([h is not None for h in headers], bool)
    if keep is not None and nd:
        # documents read fast were judged on all their points already (those dropped have none here)
        kept = np.where(fast_doc, ~fast_dropped, np.asarray(keep(cols, info), bool)) & ok_docs
        dropped_pts = ~kept[cols.member] if cols.n else np.zeros(0, bool)
        counters["not_kept_aircraft"] = int((ok_docs & ~kept).sum())
        counters["not_kept_points"] = int(dropped_pts.sum()) + fast_dropped_pts
        if dropped_pts.any():
            cols = take(cols, np.flatnonzero(~dropped_pts))
    else:
        kept = ok_docs
    raw = _raw_text(items, traces)
    batch, rej_docs = (to_batch if use_fast else to_batch_reference)(cols, info.icao, info.base_s, fmt, raw)
    for name, v in counters.items():
        batch.counters[name] = batch.counters.get(name, 0) + v
    aircraft = _aircraft_rows(info, np.flatnonzero(kept), fmt)
    return DocsResult(batch, rej_docs, aircraft, failed, read_fast, np.flatnonzero(kept))


def _in_doc_order(parts: list[TraceCols]) -> TraceCols:
    c = concat(parts)
    m = c.member
    if len(parts) > 1 and len(m) and (np.diff(m) < 0).any():
        c = take(c, np.argsort(m, kind="stable"))
    return c


def _info(headers: list[dict[str, Any] | None]) -> DocInfo:
    icao = [str(h.get("icao", "")).lower() if h is not None else "" for h in headers]
    base = np.array([_num(h["timestamp"]) if h is not None else np.nan for h in headers], np.float64)
    mil = np.zeros(len(headers), bool)
    addr = np.full(len(headers), -1, np.int64)
    for i, h in enumerate(headers):
        if h is None:
            continue
        mil[i] = _db_military(h.get("dbFlags"))
        with contextlib.suppress(ValueError, OverflowError):  # a non-hex (or too long) id has no range
            a = int(icao[i].lstrip("~"), 16)
            if 0 <= a < 1 << 24:
                addr[i] = a
    has = addr >= 0
    if has.any():
        mil[has] |= military_by_address(addr[has])
    types = [_str(h.get("t")) if h is not None else None for h in headers]
    return DocInfo(icao, base, [h or {} for h in headers], mil, types)


def _db_military(flags: Any) -> bool:
    return bool(int(flags) & 1) if isinstance(flags, int | float) and abs(flags) < 2**62 else False


def _raw_text(items: Sequence[tuple[str, bytes]], traces: dict[int, list[Any]]) -> Callable[[int, int], str]:
    """Text of point ``k`` of document ``m`` (as the reference reader quarantines it)."""

    def raw(m: int, k: int) -> str:
        trace = traces.get(m)
        if trace is None:  # read by the fast path: parse it now (rejects are rare)
            doc = json.loads(items[m][1])
            trace = traces[m] = doc["trace"]
        return json.dumps(trace[k])

    return raw


def _aircraft_rows(info: DocInfo, docs: np.ndarray, fmt: str) -> pa.Table | None:
    """``aircraft`` rows from the readsb database fields of ``docs`` (those with an address)."""
    sel = [int(i) for i in docs if info.icao[int(i)]]
    if not sel:
        return None
    h = [info.headers[i] for i in sel]
    icao = [info.icao[i] for i in sel]
    # the single-file reader's military test: dbFlags, or the address block of the id as written
    mil = []
    for i in sel:
        m = _db_military(info.headers[i].get("dbFlags"))
        with contextlib.suppress(ValueError, OverflowError):
            m = m or bool(military_by_address([int(info.icao[i].lstrip("~"), 16)])[0])
        mil.append(m)
    now = datetime.now(UTC)
    return pa.table({
        "icao24": pa.array(icao, pa.string()),
        "registration": pa.array([_str(x.get("r")) for x in h], pa.string()),
        "typecode": pa.array([_str(x.get("t")) for x in h], pa.string()),
        "type_name": pa.array([_str(x.get("desc")) for x in h], pa.string()),
        "operator": pa.array([_str(x.get("ownOp")) for x in h], pa.string()),
        "military": pa.array(mil, pa.bool_()),
        "category": pa.array([_str(x.get("category")) for x in h], pa.string()),
        "db_source": pa.array([f"feed:{fmt}"] * len(sel)),
        "t_updated_utc": pa.array([now] * len(sel), _TS),
    })

