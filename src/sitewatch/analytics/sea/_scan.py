"""The NumPy engine of the port-visit and gap scans: the SQL of :mod:`sitewatch.store.positions_sea`, vectorised.

Positions stream from DuckDB once, sorted by (id, t_utc, lat, lon), in batches of whole
vessels (a vessel split by a batch boundary is carried into the next batch), so memory is
bounded by the batch size plus the longest track. Every step is a whole-array operation
that mirrors one SQL window expression:

* ``lag``/``lead`` → shifted arrays masked at vessel boundaries;
* ``last_value(flag IGNORE NULLS) OVER (… ROWS UNBOUNDED PRECEDING)`` → forward fill by
  ``np.maximum.accumulate`` over the indices of defined flags (every vessel's first row has
  a defined state, so the fill never crosses vessels);
* running ``sum`` → ``np.cumsum``; ``GROUP BY visit`` → contiguous runs aggregated with
  cumulative sums and ``reduceat``.

Nearest anchors come from a k-d tree on Earth-centred coordinates (the SQL engine joins on
grid cells instead); both return the anchor with the smallest great-circle distance
within the exit radius. The engines give the same visits and gaps (tested on real data).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch.geo import EARTH_RADIUS_M, NM_M
from sitewatch.store import positions_sea
from sitewatch.store.db import Store

_US = 1_000_000
_FEW = 16  # anchor layers up to this size skip the k-d tree (a box test per anchor is cheaper)


def _xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return EARTH_RADIUS_M * np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _arc(chord: np.ndarray) -> np.ndarray:
    return 2 * EARTH_RADIUS_M * np.arcsin(np.clip(chord / (2 * EARTH_RADIUS_M), 0.0, 1.0))


def _hav(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


class Chunk:
    """Columns of whole vessels, sorted, with the per-row quantities every scan needs."""

    def __init__(self, tbl: pa.Table) -> None:
        self.n = tbl.num_rows
        self.ids = tbl.column("id")
        self.t_us = tbl.column("t_utc").cast(pa.int64()).to_numpy()
        self.lat = tbl.column("lat").to_numpy()
        self.lon = tbl.column("lon").to_numpy()
        spd = tbl.column("speed_kt")
        self.speed = pc.fill_null(spd, np.nan).to_numpy() if spd.null_count else spd.to_numpy()
        same = np.zeros(self.n, dtype=bool)
        if self.n > 1:
            same[1:] = pc.equal(self.ids.slice(1), self.ids.slice(0, self.n - 1)).to_numpy(zero_copy_only=False)
        self.first = ~same  # first row of a vessel
        self.dt_s = np.full(self.n, np.nan)
        self.dt_s[same] = (self.t_us[1:][same[1:]] - self.t_us[:-1][same[1:]]) / _US
        self.seg_m = np.full(self.n, np.nan)
        self.seg_m[same] = _hav(self.lat[:-1][same[1:]], self.lon[:-1][same[1:]], self.lat[1:][same[1:]],
                                self.lon[1:][same[1:]])
        with np.errstate(divide="ignore", invalid="ignore"):
            implied = np.where(self.dt_s > 0, self.seg_m / self.dt_s * 3600 / NM_M, np.nan)
        self.sog = np.where(np.isnan(self.speed), implied, self.speed)

    def id_at(self, i: np.ndarray) -> list[str]:
        return [str(x) for x in self.ids.take(pa.array(i, pa.int64())).to_pylist()]


def vessel_chunks(store: Store, t_from: datetime | None, t_to: datetime | None,
                  rows_per_batch: int = 1_000_000) -> Iterator[Chunk]:
    """Whole-vessel chunks of the sorted AIS positions (see the module docstring)."""
    pending: pa.Table | None = None
    for batch in positions_sea.sorted_position_batches(store, t_from, t_to, rows_per_batch):
        tbl = pa.Table.from_batches([batch])
        if pending is not None:
            tbl = pa.concat_tables([pending, tbl])
        last = tbl.column("id")[-1]
        keep = pc.not_equal(tbl.column("id"), last)
        head = tbl.filter(keep)
        pending = tbl.filter(pc.invert(keep))
        if head.num_rows:
            yield Chunk(head)
    if pending is not None and pending.num_rows:
        yield Chunk(pending)


def _ts(us: np.ndarray) -> list[datetime]:
    return pa.array(us, pa.int64()).cast(pa.timestamp("us", tz="UTC")).to_pylist()  # type: ignore[no-any-return]


def _runsum(x: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    cs = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    return cs[e + 1] - cs[s]


def visit_rows(store: Store, layers: Sequence[tuple[np.ndarray, np.ndarray]], entry_m: float, exit_m: float,
               stop_kt: float, move_kt: float, port_gap_s: float, max_gap_s: float, t_from: datetime | None = None,
               t_to: datetime | None = None, rows_per_batch: int = 1_000_000,
               radii: Sequence[tuple[float, float]] | None = None) -> list[list[dict[str, Any]]]:
    """For each layer of anchors (lat, lon), the rows of :func:`positions_sea.port_visit_rows`
    (as dicts), computed with NumPy in one pass over the positions shared by all layers.

    ``radii`` gives each layer its own (entry, exit) radii in metres (a watched site's area);
    by default every layer has ``entry_m``/``exit_m``.
    """
    from scipy.spatial import cKDTree

    radii = list(radii) if radii is not None else [(entry_m, exit_m)] * len(layers)
    trees = [cKDTree(_xyz(np.asarray(la, float), np.asarray(lo, float))) if len(la) > _FEW else None
             for la, lo in layers]
    out: list[list[dict[str, Any]]] = [[] for _ in layers]
    if not any(len(la) for la, _ in layers):
        return out
    for c in vessel_chunks(store, t_from, t_to, rows_per_batch):
        xyz = _xyz(c.lat, c.lon) if any(t is not None for t in trees) else None
        for k, ((la, lo), tree, (r_in, r_out)) in enumerate(zip(layers, trees, radii, strict=True)):
            if tree is not None:
                chord_max = 2 * EARTH_RADIUS_M * np.sin(r_out / (2 * EARTH_RADIUS_M)) * (1 + 1e-9)
                chord, anchor = tree.query(xyz, distance_upper_bound=chord_max)
                d = np.where(np.isinf(chord), np.inf, _arc(np.where(np.isinf(chord), 0.0, chord)))
            elif len(la):
                d, anchor = _nearest_few(c, np.asarray(la, float), np.asarray(lo, float), r_out)
            else:
                continue
            out[k] += _chunk_visits(c, d, anchor, r_in, r_out, stop_kt, move_kt, port_gap_s, max_gap_s)
    return out


def _nearest_few(c: Chunk, la: np.ndarray, lo: np.ndarray, exit_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest of a few anchors (watched sites): a box test, then haversine on the rows inside."""
    d = np.full(c.n, np.inf)
    anchor = np.full(c.n, la.size, dtype=np.int64)
    dlat = np.degrees(exit_m / EARTH_RADIUS_M) * 1.01
    for k in range(la.size):
        dlon = dlat / max(np.cos(np.radians(min(abs(la[k]) + dlat, 89.0))), 1e-6)
        m = np.flatnonzero((np.abs(c.lat - la[k]) <= dlat) & (np.abs((c.lon - lo[k] + 180.0) % 360.0 - 180.0) <= dlon))
        if m.size:
            dk = _hav(c.lat[m], c.lon[m], np.full(m.size, la[k]), np.full(m.size, lo[k]))
            better = (dk <= exit_m) & (dk < d[m])
            d[m[better]] = dk[better]
            anchor[m[better]] = k
    return d, anchor


def _chunk_visits(c: Chunk, d: np.ndarray, anchor: np.ndarray, entry_m: float, exit_m: float, stop_kt: float,
                  move_kt: float, port_gap_s: float, max_gap_s: float) -> list[dict[str, Any]]:
    """Visits in one chunk, given each row's distance to (``d``) and index of its nearest anchor."""
    flag = np.full(c.n, -1, dtype=np.int8)
    flag[d < entry_m] = 1
    flag[d > exit_m] = 0
    flag[c.first & (flag < 0)] = 0  # the state before any evidence is "at sea"
    idx = np.where(flag >= 0, np.arange(c.n), 0)
    np.maximum.accumulate(idx, out=idx)
    inport = flag[idx] == 1
    prev_in = np.r_[False, inport[:-1]] & ~c.first
    hole = c.dt_s > max_gap_s  # NaN (first row) compares False
    start = inport & (c.first | ~prev_in | hole)
    nxt_first = np.r_[c.first[1:], True]
    nxt_start = np.r_[start[1:], False]
    nxt_in = np.r_[inport[1:], False]
    end = inport & (nxt_first | ~nxt_in | nxt_start)
    s, e = np.flatnonzero(start), np.flatnonzero(end)
    if s.size == 0:
        return []
    has_entry = ~c.first[s] & ~prev_in[s] & ~hole[s]
    x = e + 1
    xs = np.minimum(x, c.n - 1)
    has_exit = (x < c.n) & ~nxt_first[e] & ~nxt_in[e] & (c.dt_s[xs] <= max_gap_s)
    stopped = inport & (c.sog < stop_kt)
    si = np.flatnonzero(stopped)
    k = np.searchsorted(si, s)
    has_stop = (k < si.size) & (si[np.minimum(k, max(si.size - 1, 0))] <= e) if si.size else np.zeros(s.size, bool)
    stop_i = si[np.minimum(k, max(si.size - 1, 0))] if si.size else np.zeros(s.size, np.int64)
    gapm = inport & ~start & (c.dt_s > port_gap_s) & (c.dt_s <= max_gap_s)
    # stop state with GFW's hysteresis (begins below stop_kt, ends above move_kt), per visit
    sflag = np.full(c.n, -1, dtype=np.int8)
    sflag[c.sog < stop_kt] = 1
    sflag[c.sog > move_kt] = 0
    sflag[start & (sflag < 0)] = 0
    sidx = np.where(sflag >= 0, np.arange(c.n), 0)
    np.maximum.accumulate(sidx, out=sidx)
    prev_stopped = np.r_[False, (sflag[sidx] == 1)[:-1]]
    stop_seg = inport & ~start & prev_stopped & (c.dt_s <= port_gap_s)
    bounds = np.ravel(np.column_stack([s, e + 1]))
    dpad = np.r_[d, np.inf]
    min_d = np.minimum.reduceat(dpad, bounds)[::2]
    n_pos = e - s + 1
    cols: dict[str, Any] = {
        "id": c.id_at(s), "visit_no": np.arange(1, s.size + 1).tolist(),
        "t_first": _ts(c.t_us[s]), "t_last": _ts(c.t_us[e]), "n_pos": n_pos.tolist(),
        "entry_anchor": anchor[s].tolist(), "first_lat": c.lat[s].tolist(), "first_lon": c.lon[s].tolist(),
        "has_entry": has_entry.tolist(),
        "exit_t": [t if ok else None for t, ok in zip(_ts(c.t_us[xs]), has_exit, strict=True)],
        "exit_lat": [float(v) if ok else None for v, ok in zip(c.lat[xs], has_exit, strict=True)],
        "exit_lon": [float(v) if ok else None for v, ok in zip(c.lon[xs], has_exit, strict=True)],
        "stop_t": [t if ok else None for t, ok in zip(_ts(c.t_us[stop_i]), has_stop, strict=True)],
        "stop_anchor": [int(a) if ok else None for a, ok in zip(anchor[stop_i], has_stop, strict=True)],
        "n_stopped": _runsum(stopped, s, e).astype(np.int64).tolist(),
        "n_gaps": _runsum(gapm, s, e).astype(np.int64).tolist(),
        "gap_s": _runsum(np.where(gapm, c.dt_s, 0.0), s, e).tolist(),
        "stopped_s": _runsum(np.where(stop_seg, c.dt_s, 0.0), s, e).tolist(),
        "min_d_m": min_d.tolist(),
        "lat": (_runsum(c.lat, s, e) / n_pos).tolist(), "lon": (_runsum(c.lon, s, e) / n_pos).tolist(),
    }
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


def gap_rows(store: Store, min_gap_s: float, dense_window_s: float, t_from: datetime | None = None,
             t_to: datetime | None = None, rows_per_batch: int = 1_000_000) -> list[dict[str, Any]]:
    """Same rows as :func:`positions_sea.gap_rows` (as dicts), computed with NumPy."""
    out: list[dict[str, Any]] = []
    win_us = round(dense_window_s * _US)
    for c in vessel_chunks(store, t_from, t_to, rows_per_batch):
        g = np.flatnonzero(c.dt_s >= min_gap_s)  # index of the first position after each gap
        if g.size == 0:
            continue
        b = g - 1
        vstart = np.maximum.accumulate(np.where(c.first, np.arange(c.n), 0))
        n_before = np.empty(g.size, dtype=np.int64)
        for k, i in enumerate(b):  # few gaps: a binary search each within the vessel's rows
            lo = int(vstart[i])
            n_before[k] = i - (lo + int(np.searchsorted(c.t_us[lo:i + 1], c.t_us[i] - win_us, side="left"))) + 1
        dist = c.seg_m[g]
        cols: dict[str, Any] = {
            "id": c.id_at(g), "t_start": _ts(c.t_us[b]), "lat0": c.lat[b].tolist(), "lon0": c.lon[b].tolist(),
            "t_end": _ts(c.t_us[g]), "lat1": c.lat[g].tolist(), "lon1": c.lon[g].tolist(),
            "gap_s": c.dt_s[g].tolist(), "dist_m": dist.tolist(),
            "implied_kt": (dist / c.dt_s[g] * 3600 / NM_M).tolist(), "n_before": n_before.tolist(),
            "speed_before_kt": [None if np.isnan(v) else float(v) for v in c.speed[b]],
        }
        out += [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    return out
