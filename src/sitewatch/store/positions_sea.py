"""The sea analytics' scans of the ``positions`` table: the SQL behind the sea events (port visits, departures, loitering, AIS gaps, encounters).

Every query reads AIS rows of ``positions`` (``source = 'ais'``) inside an optional time
window and does the per-vessel work with window functions ``OVER (PARTITION BY id ORDER
BY t_utc, lat, lon)`` (``lat, lon`` break ties between two reports at the same second, so
results are deterministic). Only aggregates come back to Python, so memory stays bounded
by the number of events, not the number of positions; DuckDB spills the windows to disk
when they do not fit. Each query is plain SQL (joins on grid cells, ``lag``/``lead``,
``last_value … IGNORE NULLS``, running sums), so it ports directly to Spark SQL.

Positions whose time was inferred (``time_inferred``: NMEA lines without any timestamp,
timed by ``--start`` or file order) are left out of every sea query: gaps, stays and
implied speeds need real times.

Speeds: ``speed_kt`` when the feed reported one, else the implied speed from the previous
position (distance / time); rows that repeat the previous time have no implied speed.
Distances are haversine metres on the sphere of :data:`sitewatch.geo.EARTH_RADIUS_M`.
"""


from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch.geo import EARTH_RADIUS_M, NM_M
from sitewatch.store.db import Store
from sitewatch.store.where import Where

ANCHOR_CELL_DEG = 0.05  # grid of the position→anchor join: 5.5 km in latitude, > the 4 km exit radius


PAIR_CELL_LAT_DEG = 0.01  # encounter grid: 1.1 km in latitude (> 500 m)


PAIR_CELL_LON_DEG = 0.03  # 0.03° of longitude is > 500 m up to 81° latitude


_ORDER = "ORDER BY t_utc, lat, lon"


def hav_sql(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    """SQL expression: haversine distance in metres between two lat/lon expressions."""
    return (
        f"(2 * {EARTH_RADIUS_M} * asin(sqrt(least(1.0, "
        f"pow(sin(radians({lat2} - {lat1}) / 2), 2) + "
        f"cos(radians({lat1})) * cos(radians({lat2})) * pow(sin(radians({lon2} - {lon1}) / 2), 2)))))"
    )


def _window(t_from: datetime | None, t_to: datetime | None) -> Where:
    # rows whose time was not in the record (file order, --start) would make fake gaps,
    # stays and speeds: the sea events use only positions with a received time
    return Where("source = 'ais'", "coalesce(time_inferred, FALSE) = FALSE").since("t_utc", t_from).before("t_utc", t_to)


def _positions_cte(t_from: datetime | None, t_to: datetime | None) -> tuple[str, list[Any]]:
    w = _window(t_from, t_to)
    return f"p AS (SELECT id, t_utc, lat, lon, speed_kt FROM positions WHERE {w.sql})", w.params


def _speed_cte(src: str = "p") -> str:
    """``v``: every row with previous point, segment distance and time, and speed."""
    d = hav_sql("lat0", "lon0", "lat", "lon")
    return (
        f"v0 AS (SELECT *, lag(t_utc) OVER w AS t0, lag(lat) OVER w AS lat0, lag(lon) OVER w AS lon0 "
        f"FROM {src} WINDOW w AS (PARTITION BY id {_ORDER})), "
        f"v AS (SELECT *, epoch(t_utc - t0) AS dt_s, {d} AS seg_m, "
        f"coalesce(speed_kt, CASE WHEN epoch(t_utc - t0) > 0 THEN {d} / epoch(t_utc - t0) * 3600 / {NM_M} END) "
        f"AS sog_kt FROM v0)"
    )


def anchor_cells(lat: np.ndarray, lon: np.ndarray, radius_m: float) -> pa.Table:
    """Grid cells (``cy``, ``cx``) each anchor's ``radius_m`` disc can touch, one row per cell.

    Cells are :data:`ANCHOR_CELL_DEG` square in degrees; longitude cells wrap at the
    antimeridian. Joining positions to this table on (cy, cx) finds every anchor within
    ``radius_m`` without comparing every position with every anchor.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    dlat = radius_m / (EARTH_RADIUS_M * math.pi / 180)
    coslat = np.cos(np.radians(np.minimum(np.abs(lat) + dlat, 89.0)))
    dlon = dlat / coslat
    n_lon = round(360 / ANCHOR_CELL_DEG)
    cy0 = np.floor((lat - dlat) / ANCHOR_CELL_DEG).astype(np.int64)
    cy1 = np.floor((lat + dlat) / ANCHOR_CELL_DEG).astype(np.int64)
    cx0 = np.floor((lon - dlon) / ANCHOR_CELL_DEG).astype(np.int64)
    cx1 = np.floor((lon + dlon) / ANCHOR_CELL_DEG).astype(np.int64)
    parts_a, parts_cy, parts_cx = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if lat.size:
        for oy in range(int((cy1 - cy0).max()) + 1):
            for ox in range(int((cx1 - cx0).max()) + 1):
                m = (cy0 + oy <= cy1) & (cx0 + ox <= cx1)
                parts_a.append(np.flatnonzero(m))
                parts_cy.append(cy0[m] + oy)
                parts_cx.append((cx0[m] + ox + n_lon // 2) % n_lon - n_lon // 2)
    a = np.concatenate(parts_a)
    return pa.table({"anchor": a, "a_lat": lat[a], "a_lon": lon[a],
                     "cy": np.concatenate(parts_cy), "cx": np.concatenate(parts_cx)})


def port_visit_rows(
    store: Store,
    anchor_lat: np.ndarray,
    anchor_lon: np.ndarray,
    entry_m: float,
    exit_m: float,
    stop_kt: float,
    move_kt: float,
    port_gap_s: float,
    max_gap_s: float,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
) -> pa.Table:
    """One row per visit of a vessel to the set of anchors (ports), GFW-style.

    State per position (hysteresis): *in port* once within ``entry_m`` of an anchor, *at
    sea* once beyond ``exit_m`` of every anchor, else unchanged. A visit is a run of
    in-port rows; its entry is observed when an at-sea row precedes it, its exit when an
    at-sea row follows it (``exit_t`` is that row's time). Stops: a row with speed below
    ``stop_kt`` (a stop lasts until speed exceeds ``move_kt``: ``stopped_s`` sums the segments
    spent stopped, gaps apart); port gaps: in-port segments
    longer than ``port_gap_s``, counted as part of the stay, unless longer than
    ``max_gap_s``: such a hole in the data ends the visit (departure unobserved) and starts
    a new one (arrival unobserved).
    """
    cells = anchor_cells(anchor_lat, anchor_lon, exit_m)
    if cells.num_rows == 0:
        return pa.table({})
    pos, params = _positions_cte(t_from, t_to)
    d = hav_sql("p.lat", "p.lon", "c.a_lat", "c.a_lon")
    cell = ANCHOR_CELL_DEG
    q = f"""
    WITH {pos},
    pr AS (SELECT row_number() OVER () AS rid, * FROM p),
    cand AS (
      SELECT p.rid, c.anchor, {d} AS d_m FROM pr p JOIN _sw_anchor_cells c
        ON c.cy = CAST(floor(p.lat / {cell}) AS BIGINT) AND c.cx = CAST(floor(p.lon / {cell}) AS BIGINT)
    ),
    near AS (SELECT rid, arg_min(anchor, d_m) AS anchor, min(d_m) AS d_m FROM cand
             WHERE d_m <= {exit_m} GROUP BY rid),
    s AS (
      SELECT pr.id, pr.t_utc, pr.lat, pr.lon, pr.speed_kt, n.anchor, n.d_m,
             CASE WHEN n.d_m < {entry_m} THEN 1 WHEN n.d_m IS NULL OR n.d_m > {exit_m} THEN 0 END AS flag
      FROM pr LEFT JOIN near n USING (rid)
    ),
    -- one sort: every per-row quantity from the same window (last_value IGNORE NULLS over
    -- the flag is the hysteresis state; shifting the frame end gives the previous/next state)
    w1 AS (
      SELECT *, lag(t_utc) OVER w AS t0, lag(lat) OVER w AS lat0, lag(lon) OVER w AS lon0,
             lead(t_utc) OVER w AS next_t, lead(lat) OVER w AS next_lat, lead(lon) OVER w AS next_lon,
             coalesce(last_value(flag IGNORE NULLS) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 0)
               AS inport,
             coalesce(last_value(flag IGNORE NULLS) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS prev_state,
             coalesce(last_value(flag IGNORE NULLS) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING), 0)
               AS next_state
      FROM s WINDOW w AS (PARTITION BY id {_ORDER})
    ),
    w2 AS (
      SELECT *, CASE WHEN t0 IS NOT NULL THEN prev_state END AS prev_in,
             CASE WHEN next_t IS NOT NULL THEN next_state END AS next_in,
             epoch(t_utc - t0) AS dt_s, epoch(next_t - t_utc) AS next_dt_s,
             coalesce(speed_kt, CASE WHEN epoch(t_utc - t0) > 0 THEN {hav_sql("lat0", "lon0", "lat", "lon")}
                      / epoch(t_utc - t0) * 3600 / {NM_M} END) AS sog_kt
      FROM w1
    ),
    st3 AS (
      SELECT *, sum(CASE WHEN inport = 1 AND (coalesce(prev_in, 0) = 0 OR dt_s > {max_gap_s}) THEN 1 ELSE 0 END)
                  OVER (PARTITION BY id {_ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS visit_no,
             CASE WHEN sog_kt < {stop_kt} THEN 1 WHEN sog_kt > {move_kt} THEN 0 END AS sflag
      FROM w2
    ),
    -- stop state (hysteresis) after the previous row of the same visit: 0 before any evidence
    st4 AS (
      SELECT *, coalesce(last_value(sflag IGNORE NULLS) OVER (PARTITION BY id, visit_no {_ORDER}
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prev_stopped
      FROM st3 WHERE inport = 1
    )
    SELECT id, visit_no,
      min(t_utc) AS t_first, max(t_utc) AS t_last, count(*) AS n_pos,
      arg_min(anchor, t_utc) AS entry_anchor,
      arg_min(lat, t_utc) AS first_lat, arg_min(lon, t_utc) AS first_lon,
      coalesce(bool_or(prev_in = 0 AND dt_s <= {max_gap_s}), FALSE) AS has_entry,
      max(next_t) FILTER (WHERE next_in = 0 AND next_dt_s <= {max_gap_s}) AS exit_t,
      max(next_lat) FILTER (WHERE next_in = 0 AND next_dt_s <= {max_gap_s}) AS exit_lat,
      max(next_lon) FILTER (WHERE next_in = 0 AND next_dt_s <= {max_gap_s}) AS exit_lon,
      min(t_utc) FILTER (WHERE sog_kt < {stop_kt}) AS stop_t,
      arg_min(anchor, t_utc) FILTER (WHERE sog_kt < {stop_kt} AND anchor IS NOT NULL) AS stop_anchor,
      count(*) FILTER (WHERE sog_kt < {stop_kt}) AS n_stopped,
      coalesce(sum(dt_s) FILTER (WHERE prev_stopped = 1 AND prev_in = 1 AND dt_s <= {port_gap_s}), 0) AS stopped_s,
      count(*) FILTER (WHERE prev_in = 1 AND dt_s > {port_gap_s} AND dt_s <= {max_gap_s}) AS n_gaps,
      coalesce(sum(dt_s) FILTER (WHERE prev_in = 1 AND dt_s > {port_gap_s} AND dt_s <= {max_gap_s}), 0) AS gap_s,
      min(d_m) AS min_d_m, avg(lat) AS lat, avg(lon) AS lon
    FROM st4
    GROUP BY id, visit_no
    ORDER BY id, t_first
    """
    with store.registered("_sw_anchor_cells", cells):
        return store.arrow(q, params)


def area_crossing_rows(
    store: Store, bbox: tuple[float, float, float, float], t_from: datetime | None = None,
    t_to: datetime | None = None,
) -> pa.Table:
    """Rows of vessels in or next to ``bbox`` (min_lon, min_lat, max_lon, max_lat).

    Returns each position inside the box plus the one just before and just after every
    stretch inside it (``inbox`` tells which), in (id, time) order: enough to find when a
    vessel entered or left any area within the box, without reading the rest of its track.
    """
    pos, params = _positions_cte(t_from, t_to)
    box = Where().bbox(bbox)
    q = f"""
    WITH {pos},
    b AS (SELECT *, ({box.sql}) AS inbox FROM p
          WHERE id IN (SELECT DISTINCT id FROM p WHERE {box.sql})),
    n AS (SELECT *, lag(inbox) OVER w AS prev_box, lead(inbox) OVER w AS next_box
          FROM b WINDOW w AS (PARTITION BY id {_ORDER}))
    SELECT id, t_utc, lat, lon, speed_kt, inbox FROM n
    WHERE inbox OR coalesce(prev_box, FALSE) OR coalesce(next_box, FALSE)
    ORDER BY id, t_utc, lat, lon
    """
    return store.arrow(q, [*params, *box.params, *box.params])


def gap_rows(
    store: Store, min_gap_s: float, dense_window_s: float, t_from: datetime | None = None,
    t_to: datetime | None = None,
) -> pa.Table:
    """One row per pair of consecutive positions of a vessel more than ``min_gap_s`` apart.

    Columns: id, t_start/lat0/lon0 (last position before), t_end/lat1/lon1 (first after),
    gap_s, dist_m, implied_kt, n_before (positions in the ``dense_window_s`` up to and
    including the last one before the gap), speed_before_kt.
    """
    pos, params = _positions_cte(t_from, t_to)
    d = hav_sql("lat0", "lon0", "lat", "lon")
    q = f"""
    WITH {pos},
    c AS (SELECT *, count(*) OVER (PARTITION BY id ORDER BY t_utc
                 RANGE BETWEEN INTERVAL {int(dense_window_s)} SECONDS PRECEDING AND CURRENT ROW) AS n_win
          FROM p),
    g AS (SELECT id, t_utc, lat, lon, lag(t_utc) OVER w AS t0, lag(lat) OVER w AS lat0,
                 lag(lon) OVER w AS lon0, lag(n_win) OVER w AS n_before, lag(speed_kt) OVER w AS speed_before_kt
          FROM c WINDOW w AS (PARTITION BY id {_ORDER}))
    SELECT id, t0 AS t_start, lat0, lon0, t_utc AS t_end, lat AS lat1, lon AS lon1,
           epoch(t_utc - t0) AS gap_s, {d} AS dist_m,
           {d} / epoch(t_utc - t0) * 3600 / {NM_M} AS implied_kt, n_before, speed_before_kt
    FROM g WHERE t0 IS NOT NULL AND epoch(t_utc - t0) >= {float(min_gap_s)}
    ORDER BY id, t0
    """
    return store.arrow(q, params)


def slow_run_rows(
    store: Store, slow_kt: float, min_duration_s: float, max_seg_s: float,
    t_from: datetime | None = None, t_to: datetime | None = None,
) -> pa.Table:
    """Runs of consecutive slow segments per vessel lasting at least ``min_duration_s``.

    A segment (previous → this position) is slow when its speed (reported, else implied)
    is below ``slow_kt`` and it lasts at most ``max_seg_s`` (a longer silence ends the
    run: nothing is known of the speed in it). Per run: start/end time and position,
    duration, path length, mean speed (path / duration), centroid and position count.
    """
    pos, params = _positions_cte(t_from, t_to)
    q = f"""
    WITH {pos}, {_speed_cte()},
    f AS (SELECT *, (t0 IS NOT NULL AND dt_s > 0 AND dt_s <= {float(max_seg_s)} AND sog_kt < {slow_kt}) AS slow
          FROM v),
    r AS (SELECT *, sum(CASE WHEN slow THEN 0 ELSE 1 END) OVER (PARTITION BY id {_ORDER}
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run_no FROM f)
    SELECT id, run_no, min(t0) AS t_start, max(t_utc) AS t_end,
           arg_min(lat0, t_utc) AS lat_start, arg_min(lon0, t_utc) AS lon_start,
           arg_max(lat, t_utc) AS lat_end, arg_max(lon, t_utc) AS lon_end,
           epoch(max(t_utc) - min(t0)) AS duration_s, sum(seg_m) AS path_m,
           sum(seg_m) / epoch(max(t_utc) - min(t0)) * 3600 / {NM_M} AS mean_kt,
           avg(lat) AS lat, avg(lon) AS lon, count(*) + 1 AS n_pos
    FROM r WHERE slow
    GROUP BY id, run_no
    HAVING epoch(max(t_utc) - min(t0)) >= {float(min_duration_s)}
    ORDER BY id, t_start
    """
    return store.arrow(q, params)


def close_pair_rows(
    store: Store, bucket_s: int, max_dist_m: float, slow_kt: float, max_bucket_gap_s: float,
    min_duration_s: float, t_from: datetime | None = None, t_to: datetime | None = None,
) -> pa.Table:
    """Runs of time buckets in which two slow vessels were within ``max_dist_m``.

    Each vessel's track is reduced to one mean position per ``bucket_s`` time bucket;
    bucket speed is the implied speed from the previous bucket (or the mean reported
    speed) and must be below ``slow_kt``. Pairs are found with an equality join on (bucket,
    grid cell), one side expanded to its 3×3 neighbouring cells (no all-pairs
    comparison). A pair's run continues while its close buckets are at most
    ``max_bucket_gap_s`` apart; runs lasting ``min_duration_s`` (first to last bucket, plus
    one bucket) are returned with mean position, min/mean distance and bucket count.
    """
    pos, params = _positions_cte(t_from, t_to)
    cy, cx = PAIR_CELL_LAT_DEG, PAIR_CELL_LON_DEG
    dprev = hav_sql("lag(lat) OVER w", "lag(lon) OVER w", "lat", "lon")
    dpair = hav_sql("a.lat", "a.lon", "b.lat", "b.lon")
    q = f"""
    WITH {pos},
    b0 AS (SELECT id, time_bucket(INTERVAL {int(bucket_s)} SECONDS, t_utc) AS tb,
                  avg(lat) AS lat, avg(lon) AS lon, avg(speed_kt) AS rep_kt
           FROM p GROUP BY id, tb),
    b1 AS (SELECT *, coalesce(rep_kt, {dprev} / nullif(epoch(tb - lag(tb) OVER w), 0) * 3600 / {NM_M}) AS kt
           FROM b0 WINDOW w AS (PARTITION BY id ORDER BY tb)),
    s AS (SELECT id, tb, lat, lon, CAST(floor(lat / {cy}) AS BIGINT) AS cy, CAST(floor(lon / {cx}) AS BIGINT) AS cx
          FROM b1 WHERE kt < {slow_kt}),
    nb AS (SELECT s.*, s.cy + oy AS ny, s.cx + ox AS nx FROM s,
           (SELECT unnest([-1, 0, 1]) AS oy), (SELECT unnest([-1, 0, 1]) AS ox)),
    pr AS (SELECT a.id AS id1, b.id AS id2, a.tb, (a.lat + b.lat) / 2 AS lat, (a.lon + b.lon) / 2 AS lon,
                  {dpair} AS d_m
           FROM s a JOIN nb b ON a.tb = b.tb AND a.cy = b.ny AND a.cx = b.nx AND a.id < b.id
           WHERE {dpair} <= {float(max_dist_m)}),
    pl AS (SELECT *, lag(tb) OVER (PARTITION BY id1, id2 ORDER BY tb) AS tb0 FROM pr),
    rn AS (SELECT *, sum(CASE WHEN epoch(tb - tb0) <= {float(max_bucket_gap_s)} THEN 0 ELSE 1 END)
                       OVER (PARTITION BY id1, id2 ORDER BY tb ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                     AS run_no
           FROM pl)
    SELECT id1, id2, run_no, min(tb) AS t_start, max(tb) + INTERVAL {int(bucket_s)} SECONDS AS t_end,
           epoch(max(tb) - min(tb)) + {int(bucket_s)} AS duration_s, count(*) AS n_buckets,
           avg(lat) AS lat, avg(lon) AS lon, min(d_m) AS min_d_m, avg(d_m) AS mean_d_m
    FROM rn GROUP BY id1, id2, run_no
    HAVING epoch(max(tb) - min(tb)) + {int(bucket_s)} >= {float(min_duration_s)}
    ORDER BY t_start, id1, id2
    """
    return store.arrow(q, params)


def sorted_position_batches(
    store: Store, t_from: datetime | None = None, t_to: datetime | None = None, rows_per_batch: int = 1_000_000,
) -> Iterator[pa.RecordBatch]:
    """AIS positions (id, t_utc, lat, lon, speed_kt) in (id, t_utc, lat, lon) order, streamed.

    One sort (DuckDB spills it to disk when it does not fit in memory); batches may split a
    vessel's track, so consumers carry the last vessel over to the next batch.
    """
    w = _window(t_from, t_to)
    yield from store.batches(
        f"SELECT id, t_utc, lat, lon, speed_kt FROM positions WHERE {w.sql} ORDER BY id, t_utc, lat, lon",
        w.params, rows_per_batch)
