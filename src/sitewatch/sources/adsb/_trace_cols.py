"""The per-point columns of readsb traces, and how they become a ``positions`` batch.

Contract: a :class:`TraceCols` holds the points of one or more trace documents in document
order (``member`` says whose point each row is). Two producers fill it with *exactly* the
same values for the same document: :func:`from_doc` (the reference: a Python loop over the
parsed JSON, the reading this module has always done) and
:func:`sitewatch.sources.adsb._trace_fast.parse` (vectorised, readsb's own layout only).
:func:`to_batch` turns the columns into one ``positions`` batch: stale points skipped and
counted (``stale_points``), ``new_legs`` counted, a point that could not be read at all
quarantined (its text, its point number as ``rec_offset``), then the shared validation of
:func:`~sitewatch.sources.adsb._common.positions_batch`.

Reading rules (readsb's ``README-json.md``): time = ``timestamp + dt_s``; ``flags`` bit 1 =
stale, bit 2 = new leg (a new-leg bit on a stale point moves to the next kept one and is
kept in ``status`` as ``<source>;new-leg``); ``alt == "ground"`` → ``onground``; callsign and
squawk are those of the latest ``details`` object.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch.sources.adsb._common import epoch_to_ts, positions_batch
from sitewatch.sources.base import Batch, Reject

F8 = np.float64


class HasPoints(Protocol):
    """Where the points are: what an aircraft filter needs (:class:`TraceCols` is one)."""

    @property
    def lat(self) -> np.ndarray: ...

    @property
    def lon(self) -> np.ndarray: ...

    @property
    def member(self) -> np.ndarray: ...


class Points(NamedTuple):
    lat: np.ndarray
    lon: np.ndarray
    member: np.ndarray


@dataclass
class TraceCols:
    """Points of ``len(starts)`` documents; arrays have one entry per point."""

    member: np.ndarray  # int64: which document
    dt: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    gs: np.ndarray
    trk: np.ndarray
    vr: np.ndarray
    flags: np.ndarray  # int64
    ground: np.ndarray  # bool
    bad: np.ndarray  # bool: the point could not be read (only the reference reader finds these)
    status: pa.Array  # string
    callsign: pa.Array  # string
    squawk: pa.Array  # string

    @property
    def n(self) -> int:
        return len(self.dt)


def from_doc(trace: list[Any], member: int = 0) -> TraceCols:
    """The reference reading of one document's ``trace`` list (a Python loop per point)."""
    n = len(trace)
    dt = np.full(n, np.nan)
    lat, lon, alt = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    gs, trk, vr = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    flags = np.zeros(n, np.int64)
    ground = np.zeros(n, bool)
    status: list[str | None] = [None] * n
    callsign: list[str | None] = [None] * n
    squawk: list[str | None] = [None] * n
    bad = np.zeros(n, bool)
    cs = sq = None
    leg = False  # a new-leg flag on a skipped (stale) point moves to the next kept one
    for i, p in enumerate(trace):
        try:
            dt[i], lat[i], lon[i] = float(p[0]), _f(p[1]), _f(p[2])
            if p[3] == "ground":
                ground[i] = True
            else:
                alt[i] = _f(p[3])
            gs[i], trk[i] = _f(p[4]), _f(p[5])
            flags[i] = int(p[6] or 0)
            vr[i] = _f(p[7]) if len(p) > 7 else np.nan
            det = p[8] if len(p) > 8 else None
            if isinstance(det, dict):
                cs = _text(det.get("flight") or "").strip() or cs
                sq = _text(det.get("squawk") or sq)
            src_type = p[9] if len(p) > 9 and isinstance(p[9], str) else None
            leg = leg or bool(flags[i] & 2)
            if not flags[i] & 1:
                status[i] = (src_type or "") + (";new-leg" if leg else "") or None
                leg = False
            callsign[i], squawk[i] = cs, sq
        except (TypeError, ValueError, IndexError, KeyError, OverflowError):
            bad[i] = True
    return TraceCols(np.full(n, member, np.int64), dt, lat, lon, alt, gs, trk, vr, flags, ground, bad,
                     pa.array(status, pa.string()), pa.array(callsign, pa.string()), pa.array(squawk, pa.string()))


def _text(v: Any) -> Any:
    """A details value that must be text (or None): anything else makes the point unreadable."""
    if v is not None and not isinstance(v, str):
        raise TypeError(f"expected text, got {type(v).__name__}")
    return v


def _f(v: Any) -> float:
    return float(v) if v is not None else np.nan


def concat(parts: Sequence[TraceCols]) -> TraceCols:
    """Points of several :class:`TraceCols` one after the other (``member`` kept as given)."""
    if len(parts) == 1:
        return parts[0]
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    def pcat(name: str) -> pa.Array:
        arrs = [getattr(p, name) for p in parts]
        if len({a.type for a in arrs}) > 1 or pa.types.is_dictionary(arrs[0].type):
            arrs = [a.cast(pa.string()) for a in arrs]  # mixed readers: plain text
        return pa.concat_arrays(arrs)

    return TraceCols(cat("member"), cat("dt"), cat("lat"), cat("lon"), cat("alt"), cat("gs"), cat("trk"),
                     cat("vr"), cat("flags"), cat("ground"), cat("bad"), pcat("status"), pcat("callsign"),
                     pcat("squawk"))


def take(c: TraceCols, idx: np.ndarray) -> TraceCols:
    """The points at ``idx`` (e.g. those of the aircraft a filter keeps)."""
    ia = pa.array(idx, pa.int64())
    return TraceCols(c.member[idx], c.dt[idx], c.lat[idx], c.lon[idx], c.alt[idx], c.gs[idx], c.trk[idx],
                     c.vr[idx], c.flags[idx], c.ground[idx], c.bad[idx], c.status.take(ia), c.callsign.take(ia),
                     c.squawk.take(ia))


def to_batch_reference(c: TraceCols, icao: Sequence[str], base_s: np.ndarray, fmt: str,
                       raw: Callable[[int, int], str]) -> tuple[Batch, np.ndarray]:
    """One ``positions`` batch of the points in ``c`` and the document of each of its rejects.

    ``icao[m]``, ``base_s[m]``: document ``m``'s address and ``timestamp``; ``raw(m, k)``: the
    text of point ``k`` (0-based) of document ``m``, asked for rejected points only.
    Points of each document must be contiguous and in order. This is the reading of the
    previous release (canonical columns, then :func:`positions_batch` row by row);
    :func:`to_batch` gives the same batch working per document where it can.
    """
    n = c.n
    flags = c.flags
    stale = (flags & 1).astype(bool) & ~c.bad
    keep = ~stale
    counters = {"stale_points": int(stale.sum()), "new_legs": int(((flags & 2) > 0).sum())}
    member = c.member
    first = np.r_[True, member[1:] != member[:-1]] if n else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    local = np.arange(n) - start  # point number within its document
    base = np.asarray(base_s, F8)[member] if n else np.zeros(0)
    t_utc = epoch_to_ts(np.where(c.bad, np.nan, base + c.dt), "s")
    ids = pa.array(list(icao), pa.string()).take(pa.array(member, pa.int64()))
    mask = pa.array(keep)
    canon = pa.table({
        "t_utc": t_utc, "id": ids,
        "lat": pa.array(np.where(c.bad, 999.0, c.lat)),  # a point not read at all: a reject, not "no position"
        "lon": pa.array(c.lon),
        "alt_ft": pa.array(c.alt, from_pandas=True), "speed_kt": pa.array(c.gs, from_pandas=True),
        "track_deg": pa.array(c.trk, from_pandas=True), "vrate_fpm": pa.array(c.vr, from_pandas=True),
        "onground": pa.array(c.ground), "callsign": c.callsign,
        "squawk": c.squawk, "status": c.status,
    }).filter(mask)
    kept = np.flatnonzero(keep)
    offs = local[kept] + 1
    kept_member = member[kept]
    rejected_in: list[int] = []  # positions_batch asks raw(i) once per reject, in order

    def raw_row(i: int) -> str:
        m = int(kept_member[i])
        rejected_in.append(m)
        return raw(m, int(offs[i]) - 1)

    b = positions_batch(canon, offs, fmt, raw_row, "record", counters)
    return b, np.asarray(rejected_in, np.int64)


def point_json(trace: list[Any], k: int) -> str:
    return json.dumps(trace[k])


_ID_RE = r"^~?[0-9a-f]{6}$"  # positions_batch's rule for an aircraft address
_TS = pa.timestamp("us", tz="UTC")


def _local(member: np.ndarray) -> np.ndarray:
    n = len(member)
    if not n:
        return np.zeros(0, np.int64)
    first = np.r_[True, member[1:] != member[:-1]]
    return np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))


def _text_col(col: pa.Array, rows: np.ndarray) -> pa.Array:
    """``col`` at ``rows``, whitespace-trimmed, empty → null (as :func:`positions_batch`), on the
    dictionary when there is one (a few distinct values) rather than on every row."""
    ia = pa.array(rows, pa.int64())
    if pa.types.is_dictionary(col.type):
        d = pc.utf8_trim_whitespace(col.dictionary.cast(pa.string()))
        d = pc.if_else(pc.equal(d, ""), pa.scalar(None, pa.string()), d)
        return pa.DictionaryArray.from_arrays(col.indices.take(ia), d).cast(pa.string())
    t = pc.utf8_trim_whitespace(col.take(ia).cast(pa.string()))
    return pc.if_else(pc.equal(t, ""), pa.scalar(None, pa.string()), t)


def to_batch(c: TraceCols, icao: Sequence[str], base_s: np.ndarray, fmt: str,
             raw: Callable[[int, int], str]) -> tuple[Batch, np.ndarray]:
    """The batch of :func:`to_batch_reference`, built with per-document checks (the address once
    per document, not per point) and the text columns fixed on their dictionaries."""
    n = c.n
    flags = c.flags
    stale = ((flags & 1) != 0) & ~c.bad
    counters = {"stale_points": int(stale.sum()), "new_legs": int(((flags & 2) > 0).sum())}
    kept = np.flatnonzero(~stale)
    if not len(kept):
        from sitewatch.sources.adsb._common import _empty

        return Batch("positions", _empty(), [], counters), np.zeros(0, np.int64)
    m = c.member[kept]
    offs = _local(c.member)[kept] + 1
    ids = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(list(icao), pa.string())))
    ok_id = np.asarray(pc.fill_null(pc.match_substring_regex(ids, _ID_RE), False).to_numpy(zero_copy_only=False),
                       bool)[m] if n else np.zeros(0, bool)
    base = np.asarray(base_s, F8)
    t = np.where(c.bad[kept], np.nan, (base[m] if n else np.zeros(0)) + c.dt[kept])
    with np.errstate(invalid="ignore"):
        us = np.round(t * 1e6)
        ok_t = np.isfinite(us) & (np.abs(us) < 4e15)  # epoch_to_ts's range
        lat = np.where(c.bad[kept], 999.0, c.lat[kept])
        lon = c.lon[kept]
        nopos = np.isnan(lat) & np.isnan(lon)
        ok_ll = (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
    bad = (~ok_t | ~ok_id | ~ok_ll) & ~nopos
    good = ~bad & ~nopos
    rejects: list[Reject] = []
    rej_docs = m[bad]
    for i in np.flatnonzero(bad):
        why = ("missing or unreadable time" if not ok_t[i] else "icao24 is not a 24-bit hex address"
               if not ok_id[i] else "latitude/longitude missing or out of range")
        rejects.append(Reject(int(offs[i]), raw(int(m[i]), int(offs[i]) - 1), why, "record"))
    if nopos.any():
        counters["no_position"] = int(nopos.sum())
    g = kept[good]
    ng = len(g)

    def num(a: np.ndarray) -> pa.Array:
        return pa.array(a[g], pa.float64(), from_pandas=True)

    cols: dict[str, pa.Array] = {
        "t_utc": pa.array(us[good].astype(np.int64), _TS),
        "source": pa.repeat(pa.scalar("adsb"), ng),
        "id": ids.take(pa.array(m[good], pa.int64())),
        "lat": pa.array(lat[good]), "lon": pa.array(lon[good]),
        "alt_ft": num(c.alt), "speed_kt": num(c.gs), "track_deg": num(c.trk),
        "onground": pa.array(c.ground[g]), "vrate_fpm": num(c.vr),
        "callsign": _text_col(c.callsign, g), "squawk": _text_col(c.squawk, g), "status": _text_col(c.status, g),
        "format": pa.repeat(pa.scalar(fmt), ng), "rec_offset": pa.array(offs[good], pa.int64()),
    }
    return Batch("positions", pa.table(cols), rejects, counters), rej_docs
