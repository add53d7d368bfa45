"""Flights (legs): each aircraft's reports split at time gaps, ground stays and readsb's leg heuristic.

Contract: :func:`legs` returns one row per leg of a partition (Arrow, ``flights`` columns).
A new leg starts at

* ``gap``: a time gap longer than ``leg_gap_s`` (default 10 min);
* ``landing-gap`` (readsb ``mark_legs``): a shorter gap, longer than ``leg_landing_gap_s``,
  with the aircraft below ``leg_low_agl_ft`` and descending before it and climbing after it
  — it landed and took off again unseen;
* ``ground``: the first report of a ground stay (see :mod:`._tracks`) that follows flight,
  so a leg runs from the ground stay at its origin to the touchdown at its destination.

Origin and destination are the nearest airfields to the first and last reports when those
are on the ground or low (below ``leg_low_agl_ft``), within ``approach_radius_m``, with the
distance and the number of other airfields within ``candidates_radius_m`` (as OpenSky's
flights table reports them). The ``air.flights`` analysis writes the ``flights`` table.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from sitewatch import schema
from sitewatch.analytics.air import _tracks as T
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams
from sitewatch.analytics.base import AnalysisContext, events_table, register_analysis
from sitewatch.store import flights as FL

ANALYSIS = "air.flights"
REASONS = ("track-start", "gap", "landing-gap", "ground")


def split_points(tr: T.Tracks, p: AirParams, ground: np.ndarray) -> np.ndarray:
    """Reason code per row (index into :data:`REASONS`) where a leg starts, -1 elsewhere."""
    n = len(tr)
    reason = np.full(n, -1, dtype=np.int8)
    if n == 0:
        return reason
    first = tr.first_of_ac()
    dt = np.full(n, np.inf)
    dt[1:] = tr.t_s[1:] - tr.t_s[:-1]
    reason[first] = 0
    cont = ~first
    reason[cont & (dt > p.leg_gap_s)] = 1
    # readsb heuristic: low and descending before a shorter gap, low and climbing after it
    cand = np.flatnonzero(cont & (reason < 0) & (dt > p.leg_landing_gap_s))
    if cand.size:
        prev = cand - 1
        wb = T.window_index(tr, -p.profile_window_s, prev)
        wa = T.window_last(tr, p.profile_window_s, cand)
        alt_prev, alt_here = tr.alt_ft[prev], tr.alt_ft[cand]
        with np.errstate(invalid="ignore"):
            low = (alt_prev < p.leg_low_agl_ft) & (alt_here < p.leg_low_agl_ft)
            desc = tr.alt_ft[wb] - alt_prev >= p.air_above_field_ft
            climb = tr.alt_ft[wa] - alt_here >= p.air_above_field_ft
        reason[cand[low & desc & climb]] = 2
    g = ground.astype(bool)
    g_prev = np.zeros(n, dtype=bool)
    g_prev[1:] = g[:-1]
    st = T.stays(tr, ground, p.min_ground_s)
    stay_start = np.zeros(n, dtype=bool)
    stay_start[st.start] = True
    reason[cont & (reason < 0) & stay_start & ~g_prev] = 3
    return reason


def legs(tr: T.Tracks, af: Airfields, p: AirParams, use_flags: bool = True) -> pa.Table:
    """One row per leg (columns of the ``flights`` table)."""
    if len(tr) == 0:
        return schema.FLIGHTS.arrow_schema().empty_table()
    ground = T.ground_state(tr, p, use_flags)
    reason = split_points(tr, p, ground)
    start = np.flatnonzero(reason >= 0)
    stop = np.append(start[1:], len(tr))
    last = stop - 1
    n_pos = stop - start
    alt = tr.alt_ft
    max_alt = np.fmax.reduceat(np.where(np.isfinite(alt), alt, -np.inf), start)
    max_alt = np.where(np.isfinite(max_alt), max_alt, np.nan)
    air_rows = np.add.reduceat((ground == 0).astype(np.int64), start) > 0
    end_reason = np.full(start.size, "track-end", dtype=object)
    nxt = np.append(reason[start[1:]], -1)
    same_ac = np.append(tr.ac[start[1:]] == tr.ac[start[:-1]], False)
    end_reason[same_ac] = np.asarray(REASONS, dtype=object)[nxt[same_ac]]

    def ends(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        low = (ground[rows] == 1) | ~(alt[rows] >= p.leg_low_agl_ft)
        near = af.nearest(tr.lat[rows], tr.lon[rows], p.approach_radius_m)
        cands = af.candidates(tr.lat[rows], tr.lon[rows], p.candidates_radius_m)
        ok = low & (near.idx >= 0)
        code = near.code.copy()
        code[~ok] = None
        dist = np.where(ok, near.dist_m, np.nan)
        return code, dist, np.where(ok, np.maximum(cands - 1, 0), cands), ok

    o_code, o_dist, o_c, _ = ends(start)
    d_code, d_dist, d_c, _ = ends(last)
    ids = tr.ids[tr.ac[start]]
    t0, t1 = tr.t_s[start], tr.t_s[last]
    fid = [hashlib.sha1(f"{i}|{t:.3f}".encode()).hexdigest()[:16] for i, t in zip(ids, t0, strict=True)]
    now = datetime.now(UTC)

    def ts(a: np.ndarray) -> pa.Array:
        return pa.array((a * 1e6).astype(np.int64), pa.timestamp("us", tz="UTC"))

    def f(a: np.ndarray) -> pa.Array:
        return pa.array(np.asarray(a, dtype=np.float64), pa.float64(), mask=~np.isfinite(np.asarray(a, float)))

    cols = {
        "flight_id": pa.array(fid, pa.string()), "icao24": pa.array(ids.tolist(), pa.string()),
        "t_start": ts(t0), "t_end": ts(t1), "n_positions": pa.array(n_pos, pa.int64()),
        "airborne": pa.array(air_rows), "max_alt_ft": f(max_alt),
        "lat_first": f(tr.lat[start]), "lon_first": f(tr.lon[start]), "alt_first_ft": f(alt[start]),
        "lat_last": f(tr.lat[last]), "lon_last": f(tr.lon[last]), "alt_last_ft": f(alt[last]),
        "origin": pa.array(o_code.tolist(), pa.string()), "origin_dist_m": f(o_dist),
        "origin_candidates": pa.array(o_c, pa.int32()),
        "destination": pa.array(d_code.tolist(), pa.string()), "destination_dist_m": f(d_dist),
        "destination_candidates": pa.array(d_c, pa.int32()),
        "split_start": pa.array(np.asarray(REASONS, dtype=object)[reason[start]].tolist(), pa.string()),
        "split_end": pa.array(end_reason.tolist(), pa.string()),
        "t_computed_utc": pa.array([now] * start.size, pa.timestamp("us", tz="UTC")),
    }
    return pa.table(cols, schema=schema.FLIGHTS.arrow_schema())


@register_analysis(ANALYSIS, order=10, kinds=())
def flights(ctx: AnalysisContext) -> pa.Table:
    """Split tracks into flights (legs) with origin/destination airfields (writes table ``flights``)."""
    from sitewatch.analytics.air import _pipeline

    FL.replace_flights(ctx.store, _pipeline.for_context(ctx).legs, ctx.t_from, ctx.t_to)
    return events_table([], ANALYSIS)
