"""Columnar aircraft tracks: NumPy arrays of many aircraft at once, sorted by (id, time).

Contract: :func:`from_arrow` takes a partition from
:func:`sitewatch.store.positions_air.track_partitions` (whole aircraft, sorted by ``id, t_s``)
and returns :class:`Tracks` with stale repeats removed (an exactly repeated position while
reporting a flying speed and not on the ground is a forward-filled report, not a new
observation). Everything here is vectorised over the whole partition: aircraft boundaries
are handled with a composite sort key, never with a Python loop over rows.

:func:`ground_state` classifies every report as on the ground or not, from the on-ground
flag where present and trusted (``use_flags``) and otherwise from the speed derived from
positions (below taxi speed = on the ground); runs shorter than the debounce time are
flicker and take their neighbours' state. :func:`stays` returns the ground stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sitewatch import geo
from sitewatch.analytics.air._params import AirParams

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


def _f64(t: pa.Table, name: str) -> F64:
    col = t.column(name)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


@dataclass
class Tracks:
    """Reports of many aircraft; ``bounds[k]:bounds[k+1]`` are the rows of aircraft ``ids[k]``."""

    ids: npt.NDArray[np.object_]
    bounds: I64
    ac: I64
    t_s: F64
    lat: F64
    lon: F64
    alt_ft: F64
    speed_kt: F64
    track_deg: F64
    vrate_fpm: F64
    onground: npt.NDArray[np.int8]  # 1 ground, 0 airborne, -1 not reported
    n_stale: int = 0
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    """Derived arrays computed once per partition (speeds, ground state, key)."""

    def __len__(self) -> int:
        return int(self.t_s.size)

    @property
    def key(self) -> F64:
        """Composite (aircraft, time) key: sorted, and never equal across aircraft."""
        if "key" not in self.cache:
            self.cache["key"] = self.ac.astype(np.float64) * 1e10 + self.t_s
        return np.asarray(self.cache["key"])

    def first_of_ac(self) -> B:
        m = np.zeros(len(self), dtype=bool)
        m[self.bounds[:-1]] = True
        return m

    def last_of_ac(self) -> B:
        m = np.zeros(len(self), dtype=bool)
        m[self.bounds[1:] - 1] = True
        return m

    def take(self, idx: I64) -> Tracks:
        """Rows ``idx`` (sorted) as new tracks."""
        ac = self.ac[idx]
        keep_ac, new_ac = np.unique(ac, return_inverse=True)
        bounds = np.searchsorted(new_ac, np.arange(keep_ac.size + 1))
        return Tracks(self.ids[keep_ac], bounds.astype(np.int64), new_ac.astype(np.int64), self.t_s[idx],
                      self.lat[idx], self.lon[idx], self.alt_ft[idx], self.speed_kt[idx], self.track_deg[idx],
                      self.vrate_fpm[idx], self.onground[idx], self.n_stale)


def from_arrow(t: pa.Table, stale_min_kt: float = 50.0) -> Tracks:
    """Tracks from a partition sorted by ``id, t_s``; stale repeats are dropped and counted."""
    import pyarrow.compute as pc

    id_col = t.column("id").combine_chunks()
    n = len(id_col)
    t_s = _f64(t, "t_s")
    lat, lon = _f64(t, "lat"), _f64(t, "lon")
    alt, spd = _f64(t, "alt_ft"), _f64(t, "speed_kt")
    trk, vr = _f64(t, "track_deg"), _f64(t, "vrate_fpm")
    og_col = t.column("onground")
    og = np.where(og_col.is_null().to_numpy(zero_copy_only=False), -1,
                  og_col.fill_null(False).to_numpy(zero_copy_only=False).astype(np.int8)).astype(np.int8)
    new_ac = np.ones(n, dtype=bool)
    if n > 1:
        new_ac[1:] = pc.not_equal(id_col.slice(1), id_col.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    stale = np.zeros(n, dtype=bool)
    if n > 1:
        same = ~new_ac[1:] & (lat[1:] == lat[:-1]) & (lon[1:] == lon[:-1])
        stale[1:] = same & (np.nan_to_num(spd[1:], nan=0.0) >= stale_min_kt) & (og[1:] != 1)
    keep = ~stale
    ac = np.cumsum(new_ac) - 1
    ac = ac[keep]
    t_s, lat, lon, alt, spd, trk, vr = (a[keep] for a in (t_s, lat, lon, alt, spd, trk, vr))
    og = og[keep]
    starts = np.flatnonzero(new_ac)
    ids = np.asarray(id_col.take(pa.array(starts)).to_pylist(), dtype=object)
    bounds = np.searchsorted(ac, np.arange(ids.size + 1)).astype(np.int64)
    return Tracks(ids, bounds, ac.astype(np.int64), t_s, lat, lon, alt, spd, trk, vr, og, int(stale.sum()))


def window_index(tr: Tracks, offset_s: float, rows: I64 | None = None) -> I64:
    """For each row (or each of ``rows``), the index of the first row of the same aircraft at or
    after ``t + offset_s`` (clamped to the aircraft's rows): a ``RANGE`` frame boundary."""
    key = tr.key
    ac = tr.ac if rows is None else tr.ac[rows]
    q = key if rows is None else key[rows]
    idx = np.searchsorted(key, q + offset_s, side="left")
    lo, hi = tr.bounds[ac], tr.bounds[ac + 1] - 1
    return np.clip(idx, lo, hi).astype(np.int64)


def window_last(tr: Tracks, offset_s: float, rows: I64 | None = None) -> I64:
    """For each row (or each of ``rows``), the index of the last row of the same aircraft at or
    before ``t + offset_s``."""
    key = tr.key
    ac = tr.ac if rows is None else tr.ac[rows]
    q = key if rows is None else key[rows]
    idx = np.searchsorted(key, q + offset_s, side="right") - 1
    lo, hi = tr.bounds[ac], tr.bounds[ac + 1] - 1
    return np.clip(idx, lo, hi).astype(np.int64)


def first_at(tr: Tracks, row: int, offset_s: float) -> int:
    """Scalar :func:`window_index` for one row."""
    return int(window_index(tr, offset_s, np.array([row], dtype=np.int64))[0])


def last_at(tr: Tracks, row: int, offset_s: float) -> int:
    """Scalar :func:`window_last` for one row."""
    return int(window_last(tr, offset_s, np.array([row], dtype=np.int64))[0])


def derived_speed_kt(tr: Tracks, half_window_s: float) -> F64:
    """Ground speed from positions over ``±half_window_s`` (NaN for a lone report); cached."""
    ck = ("dspeed", half_window_s)
    if ck in tr.cache:
        return np.asarray(tr.cache[ck])
    i0 = window_index(tr, -half_window_s)
    i1 = window_last(tr, half_window_s)
    dt = tr.t_s[i1] - tr.t_s[i0]
    # equirectangular distance: over a few kilometres it is within 0.1 % of the great circle
    # and several times cheaper than haversine on millions of rows
    k = np.radians(1.0) * geo.EARTH_RADIUS_M
    dy = (tr.lat[i1] - tr.lat[i0]) * k
    dx = ((tr.lon[i1] - tr.lon[i0] + 540.0) % 360.0 - 180.0) * k * np.cos(np.radians(tr.lat[i0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(dt > 0, np.hypot(dx, dy) / dt / geo.KT_MS, np.nan)
    tr.cache[ck] = np.asarray(v, dtype=np.float64)
    return np.asarray(tr.cache[ck])


@dataclass
class Runs:
    """Maximal runs of equal values within each aircraft: ``start``/``stop`` row indices
    (``stop`` exclusive), ``value`` and ``dur_s`` (time until the next run starts, or the
    run's own span when it is the aircraft's last)."""

    start: I64
    stop: I64
    value: npt.NDArray[np.int8]
    dur_s: F64


def runs(tr: Tracks, state: npt.NDArray[np.int8]) -> Runs:
    n = len(tr)
    if n == 0:
        e = np.zeros(0, dtype=np.int64)
        return Runs(e, e, np.zeros(0, dtype=np.int8), np.zeros(0))
    brk = np.ones(n, dtype=bool)
    brk[1:] = (state[1:] != state[:-1]) | (tr.ac[1:] != tr.ac[:-1])
    start = np.flatnonzero(brk).astype(np.int64)
    stop = np.append(start[1:], n).astype(np.int64)
    last_row = stop - 1
    same_ac_next = np.zeros(start.size, dtype=bool)
    same_ac_next[:-1] = tr.ac[start[1:]] == tr.ac[start[:-1]]
    end_t = np.where(same_ac_next, tr.t_s[np.minimum(stop, n - 1)], tr.t_s[last_row])
    return Runs(start, stop, state[start], end_t - tr.t_s[start])


def debounce(tr: Tracks, state: npt.NDArray[np.int8], min_s: float) -> npt.NDArray[np.int8]:
    """Runs shorter than ``min_s`` between two runs of the other value take that value."""
    r = runs(tr, state)
    if r.start.size < 3:
        return state
    short = r.dur_s < min_s
    inner = np.zeros(r.start.size, dtype=bool)
    inner[1:-1] = (tr.ac[r.start[1:-1]] == tr.ac[r.start[:-2]]) & (tr.ac[r.start[1:-1]] == tr.ac[r.start[2:]])
    flip = short & inner
    if not flip.any():
        return state
    prev_val = np.empty_like(r.value)
    prev_val[1:] = r.value[:-1]
    prev_val[0] = r.value[0]
    run_of_row = np.repeat(np.arange(r.start.size), r.stop - r.start)
    return np.where(flip[run_of_row], prev_val[run_of_row], state).astype(np.int8)


def ground_state(tr: Tracks, p: AirParams, use_flags: bool = True,
                 dspeed_kt: F64 | None = None) -> npt.NDArray[np.int8]:
    """1 where the aircraft is on the ground, 0 elsewhere (see module docstring); cached."""
    ck = ("ground", use_flags, p.taxi_max_kt, p.flag_debounce_s, p.speed_window_s)
    if ck not in tr.cache:
        v = derived_speed_kt(tr, p.speed_window_s) if dspeed_kt is None else dspeed_kt
        prof = (v < p.taxi_max_kt).astype(np.int8)
        state = np.where(tr.onground >= 0, tr.onground, prof).astype(np.int8) if use_flags else prof
        tr.cache[ck] = debounce(tr, state, p.flag_debounce_s)
    return np.asarray(tr.cache[ck])


def stays(tr: Tracks, ground: npt.NDArray[np.int8], min_s: float) -> Runs:
    """Ground runs lasting at least ``min_s``."""
    r = runs(tr, ground)
    m = (r.value == 1) & (r.dur_s >= min_s)
    return Runs(r.start[m], r.stop[m], r.value[m], r.dur_s[m])


def course_deg(tr: Tracks, i0: I64, i1: I64) -> F64:
    """Bearing from row ``i0`` to row ``i1`` (NaN when they coincide)."""
    b = np.asarray(geo.bearing_deg(tr.lat[i0], tr.lon[i0], tr.lat[i1], tr.lon[i1]), dtype=np.float64)
    same = (tr.lat[i0] == tr.lat[i1]) & (tr.lon[i0] == tr.lon[i1])
    return np.where(same, np.nan, b)
