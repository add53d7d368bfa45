"""The air analytics' scans of the ``positions`` table (and the ``sitewatch query`` commands).

Every query reads a *relation* of positions: the ``positions`` table of a workspace,
rows of one source (:func:`store_relation`), narrowed by time (:meth:`Relation.filtered`).
The core steps are window functions
over ``PARTITION BY id ORDER BY t_utc`` (``LAG``/``LEAD`` and ``RANGE`` frames in seconds)
so that they port to Spark SQL unchanged: stale-position removal, dark gaps with the
state at loss and at reacquisition, the coverage map, and the two-box query.

Contract: functions take a :class:`~sitewatch.store.db.Store` and return Arrow tables
(fully fetched) or stream Arrow tables with whole aircraft per partition, sorted by
``id, t_utc`` (:func:`track_partitions`), so memory stays bounded by the partition size.
"""


from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from sitewatch.store.db import Store
from sitewatch.store.where import Where

TRACK_COLUMNS = ("id", "t_s", "lat", "lon", "alt_ft", "speed_kt", "track_deg", "onground", "vrate_fpm")


@dataclass(frozen=True)
class Relation:
    """A positions relation: SQL text of a table expression and its filter (frozen, so one
    relation is shared by every query of an analysis; :meth:`where` gives a copy to extend)."""

    sql: str
    cond: str = "TRUE"
    params: tuple[Any, ...] = ()

    def where(self) -> Where:
        """The relation's filter as a new :class:`Where` (add conditions to it freely)."""
        w = Where(self.cond)
        w.params.extend(self.params)
        return w

    def filtered(self, t_from: datetime | None = None, t_to: datetime | None = None) -> Relation:
        w = self.where().since("t_utc", t_from).before("t_utc", t_to)
        return Relation(self.sql, w.sql, tuple(w.params))


def store_relation(source: str = "adsb") -> Relation:
    """The ``positions`` table of the workspace, rows of ``source``."""
    return Relation("positions", "source = ?", (source,))


def count(store: Store, rel: Relation) -> int:
    w = rel.where()
    return int(store.scalar(f"SELECT count(*) FROM {rel.sql} WHERE {w.sql}", w.params) or 0)


def track_partitions(store: Store, rel: Relation, rows_per_partition: int = 4_000_000,
                     total_rows: int | None = None) -> Iterator[pa.Table]:
    """Whole aircraft per partition (``hash(id) % n``), rows sorted by ``id, t_utc``.

    ``t_s`` is epoch seconds (double); ``onground`` stays nullable.
    """
    n_rows = count(store, rel) if total_rows is None else total_rows
    n_parts = max(1, math.ceil(n_rows / rows_per_partition))
    cols = ("id, epoch(t_utc) AS t_s, lat, lon, alt_ft, speed_kt, track_deg, onground, vrate_fpm")
    for k in range(n_parts):
        w = rel.where() if n_parts == 1 else rel.where().raw("hash(id) % ? = ?", n_parts, k)
        t = store.arrow(f"SELECT {cols} FROM {rel.sql} WHERE {w.sql} ORDER BY id, t_utc", w.params)
        if t.num_rows:
            yield t


def _fresh_cte(rel: Relation, stale_min_kt: float) -> str:
    """CTE ``fresh``: positions minus stale repeats (same lat/lon as the previous report
    of the same aircraft while reporting a flying speed and not on the ground)."""
    return (
        "marked AS (SELECT id, t_utc, epoch(t_utc) AS t_s, lat, lon, alt_ft, speed_kt, track_deg, "
        "vrate_fpm, onground, "
        "coalesce(lat = lag(lat) OVER w AND lon = lag(lon) OVER w "
        f"AND coalesce(speed_kt, 0) >= {float(stale_min_kt)} AND NOT coalesce(onground, false), false) AS stale "
        f"FROM {rel.sql} WHERE {rel.cond} WINDOW w AS (PARTITION BY id ORDER BY t_utc)), "
        "fresh AS (SELECT * FROM marked WHERE NOT stale)"
    )


def gaps(store: Store, rel: Relation, low_s: float, high_s: float, split_alt_ft: float,
         stale_min_kt: float, trend_s: float = 120.0) -> pa.Table:
    """Dark gaps: consecutive fresh reports of one aircraft further apart than the threshold
    for the altitude at loss (``low_s`` below ``split_alt_ft``, ``high_s`` above).

    Columns: ``id``, ``t0_s``/``t1_s`` (last report before, first after), position, altitude,
    speed, track, vertical rate at loss (``*0``) and reacquisition (``*1``), and the altitude
    and position ``trend_s`` before loss / after reacquisition (``alt0b_ft``, ``lat0b`` …,
    ``alt1a_ft``, ``lat1a`` …) for the descent/climb and heading fits.
    """
    tr = float(trend_s)
    q = (
        f"WITH {_fresh_cte(rel, stale_min_kt)}, "
        "ctx AS (SELECT *, "
        f"first_value(alt_ft IGNORE NULLS) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN {tr} PRECEDING AND CURRENT ROW) AS altb, "
        f"first_value(lat) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN {tr} PRECEDING AND CURRENT ROW) AS latb, "
        f"first_value(lon) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN {tr} PRECEDING AND CURRENT ROW) AS lonb, "
        f"last_value(alt_ft IGNORE NULLS) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN CURRENT ROW AND {tr} FOLLOWING) AS alta, "
        f"last_value(lat) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN CURRENT ROW AND {tr} FOLLOWING) AS lata, "
        f"last_value(lon) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN CURRENT ROW AND {tr} FOLLOWING) AS lona "
        "FROM fresh), "
        "g AS (SELECT id, lag(t_s) OVER w AS t0_s, t_s AS t1_s, "
        "lag(lat) OVER w AS lat0, lag(lon) OVER w AS lon0, lag(alt_ft) OVER w AS alt0_ft, "
        "lag(speed_kt) OVER w AS speed0_kt, lag(track_deg) OVER w AS track0_deg, lag(vrate_fpm) OVER w AS vrate0_fpm, "
        "lag(altb) OVER w AS alt0b_ft, lag(latb) OVER w AS lat0b, lag(lonb) OVER w AS lon0b, "
        "lat AS lat1, lon AS lon1, alt_ft AS alt1_ft, speed_kt AS speed1_kt, track_deg AS track1_deg, "
        "vrate_fpm AS vrate1_fpm, alta AS alt1a_ft, lata AS lat1a, lona AS lon1a "
        "FROM ctx WINDOW w AS (PARTITION BY id ORDER BY t_s)) "
        "SELECT * FROM g WHERE t0_s IS NOT NULL AND t1_s - t0_s > "
        f"CASE WHEN coalesce(alt0_ft, 0) >= {float(split_alt_ft)} THEN {float(high_s)} ELSE {float(low_s)} END "
        "ORDER BY id, t0_s"
    )
    return store.arrow(q, list(rel.params))


ALT_BANDS_FT = (3000.0, 10000.0, 25000.0)
"""Coverage map altitude bands: below 3,000 ft (or unknown), 3,000-10,000, 10,000-25,000, above."""


def coverage_map(store: Store, rel: Relation, cell_deg: float, bin_s: float,
                 stale_min_kt: float = 50.0) -> pa.Table:
    """Where and when aircraft were received (fresh reports only, stale repeats are no reception):
    distinct aircraft per (cell, band, time bin).

    Columns ``ci``, ``cj`` (floor(lat/cell), floor(lon/cell)), ``band`` (0-3, see
    :data:`ALT_BANDS_FT`), ``tb`` (floor(epoch/bin)), ``n_ids``.
    """
    b0, b1, b2 = ALT_BANDS_FT
    q = (
        f"WITH {_fresh_cte(rel, stale_min_kt)} SELECT CAST(floor(lat / {float(cell_deg)}) AS INTEGER) AS ci, "
        f"CAST(floor(lon / {float(cell_deg)}) AS INTEGER) AS cj, "
        f"CAST(CASE WHEN alt_ft IS NULL OR alt_ft < {b0} THEN 0 WHEN alt_ft < {b1} THEN 1 "
        f"WHEN alt_ft < {b2} THEN 2 ELSE 3 END AS INTEGER) AS band, "
        f"CAST(floor(t_s / {float(bin_s)}) AS BIGINT) AS tb, count(DISTINCT id) AS n_ids "
        "FROM fresh GROUP BY ALL"
    )
    return store.arrow(q, list(rel.params))


@dataclass(frozen=True)
class Area:
    """A query area: a bounding box, optionally a circle (centre and radius) inside it."""

    name: str
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    centre: tuple[float, float] | None = None  # (lat, lon)
    radius_m: float | None = None

    def where(self) -> Where:
        """Inside the box, and within ``radius_m`` of ``centre`` when it has one (haversine)."""
        w = Where().bbox((self.min_lon, self.min_lat, self.max_lon, self.max_lat))
        if self.centre is not None and self.radius_m is not None:
            la, lo = self.centre
            w.raw("2 * 6371008.8 * asin(sqrt(pow(sin(radians(lat - ?) / 2), 2) + "
                  "cos(radians(?)) * cos(radians(lat)) * pow(sin(radians(lon - ?) / 2), 2))) <= ?",
                  la, la, lo, self.radius_m)
        return w


def two_box(store: Store, rel: Relation, a: Area, b: Area, min_gap_s: float, max_gap_s: float) -> pa.Table:
    """Aircraft last seen in ``a`` and next seen in ``b`` between ``min_gap_s`` and ``max_gap_s`` later.

    One row per (exit from A, entry into B) pair: ``id``, ``t_a`` (last report in A before
    leaving it), ``t_b`` (first report in B after), ``gap_s``, position at both ends, and
    ``n_between`` — reports elsewhere in between (0: the aircraft was dark).
    """
    wa, wb, w = a.where(), b.where(), rel.where()
    q = (
        "WITH tagged AS (SELECT id, t_utc, lat, lon, alt_ft, "
        f"CASE WHEN ({wa.sql}) THEN 'A' WHEN ({wb.sql}) THEN 'B' ELSE 'O' END AS box "
        f"FROM {rel.sql} WHERE {w.sql}), "
        "seq AS (SELECT *, lead(box) OVER w AS next_box, "
        "row_number() OVER w AS rn FROM tagged WINDOW w AS (PARTITION BY id ORDER BY t_utc)), "
        # last A report before the aircraft leaves A, and the first B report after it
        "exits AS (SELECT id, t_utc AS t_a, lat AS lat_a, lon AS lon_a, alt_ft AS alt_a_ft, rn AS rn_a "
        "FROM seq WHERE box = 'A' AND next_box IS DISTINCT FROM 'A'), "
        "entries AS (SELECT id, t_utc AS t_b, lat AS lat_b, lon AS lon_b, alt_ft AS alt_b_ft, rn AS rn_b "
        "FROM seq WHERE box = 'B'), "
        "pairs AS (SELECT e.*, n.t_b, n.lat_b, n.lon_b, n.alt_b_ft, n.rn_b, "
        "row_number() OVER (PARTITION BY e.id, e.t_a ORDER BY n.t_b) AS k "
        "FROM exits e JOIN entries n ON n.id = e.id AND n.t_b > e.t_a "
        "AND n.t_b <= e.t_a + to_seconds(?)) "
        "SELECT id, t_a, t_b, epoch(t_b) - epoch(t_a) AS gap_s, lat_a, lon_a, alt_a_ft, lat_b, lon_b, alt_b_ft, "
        "rn_b - rn_a - 1 AS n_between FROM pairs WHERE k = 1 AND epoch(t_b) - epoch(t_a) >= ? "
        "ORDER BY t_a, id"
    )
    return store.arrow(q, [*wa.params, *wb.params, *w.params, float(max_gap_s), float(min_gap_s)])


def aircraft_seen(store: Store, rel: Relation, types: Sequence[str] = (), military: bool = False,
                  near: Area | None = None) -> pa.Table:
    """Aircraft with positions in ``rel`` (optionally within ``near``), joined to ``aircraft``,
    filtered by type designators and the military flag: first/last seen, report count."""
    inner = rel.where()
    if near is not None:
        area = near.where()
        inner.raw(area.sql, *area.params)
    outer = Where().any("upper(a.typecode)", [t.upper() for t in types] or None)
    if military:
        outer.raw("coalesce(a.military, false)")
    q = (
        "WITH seen AS (SELECT id, min(t_utc) AS first_seen, max(t_utc) AS last_seen, count(*) AS n_positions, "
        "mode(callsign) AS callsign, min(alt_ft) AS min_alt_ft "
        f"FROM {rel.sql} WHERE {inner.sql} GROUP BY id) "
        "SELECT s.id, a.registration, a.typecode, a.type_name, a.operator, a.military, s.callsign, "
        "s.first_seen, s.last_seen, s.n_positions, s.min_alt_ft "
        f"FROM seen s LEFT JOIN aircraft a ON a.icao24 = s.id WHERE {outer.sql} ORDER BY s.first_seen, s.id"
    )
    return store.arrow(q, [*inner.params, *outer.params])


def legs(store: Store, rel: Relation, *, stale_min_kt: float, speed_window_s: float, taxi_max_kt: float,
         flag_debounce_s: float, min_ground_s: float, leg_gap_s: float, leg_landing_gap_s: float,
         leg_low_agl_ft: float, air_above_field_ft: float, profile_window_s: float,
         use_flags: bool = True) -> pa.Table:
    """Leg boundaries in SQL — the reference the Spark port follows; the NumPy path in
    :mod:`sitewatch.analytics.air.flights` gives the same rows (a test checks it).

    Steps, each a window over ``PARTITION BY id ORDER BY t_s``: fresh reports; speed from
    positions over ``±speed_window_s`` (``RANGE`` frames, equirectangular distance); ground
    state (flag, else speed below ``taxi_max_kt``); runs and their durations; short inner runs
    take the previous run's value (debounce); ground stays of ``min_ground_s``; leg starts at
    the first report, a gap over ``leg_gap_s``, readsb's landing gap, or a stay after flight.
    Returns ``id, t_start_s, t_end_s, n_positions, split_start`` ordered by id and time.
    """
    w = f"{float(speed_window_s)}"
    prof = f"coalesce(v_kt < {float(taxi_max_kt)}, false)"
    state = f"coalesce(onground, {prof})" if use_flags else prof
    q = (
        f"WITH {_fresh_cte(rel, stale_min_kt)}, "
        "spd AS (SELECT *, "
        f"first_value(lat) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN {w} PRECEDING AND CURRENT ROW) AS la0, "
        f"first_value(lon) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN {w} PRECEDING AND CURRENT ROW) AS lo0, "
        f"first_value(t_s) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN {w} PRECEDING AND CURRENT ROW) AS t0, "
        f"last_value(lat) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN CURRENT ROW AND {w} FOLLOWING) AS la1, "
        f"last_value(lon) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN CURRENT ROW AND {w} FOLLOWING) AS lo1, "
        f"last_value(t_s) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN CURRENT ROW AND {w} FOLLOWING) AS t1 "
        "FROM fresh), "
        "v AS (SELECT *, CASE WHEN t1 > t0 THEN sqrt(pow((la1 - la0) * radians(1) * 6371008.8, 2) + "
        "pow((((lo1 - lo0 + 540) % 360) - 180) * radians(1) * 6371008.8 * cos(radians(la0)), 2)) "
        "/ (t1 - t0) / (1852.0 / 3600.0) END AS v_kt FROM spd), "
        f"s AS (SELECT *, CAST({state} AS INTEGER) AS g FROM v), "
        # runs of the raw state, their durations and neighbours
        "c0 AS (SELECT *, CASE WHEN g IS DISTINCT FROM lag(g) OVER w THEN 1 ELSE 0 END AS chg "
        "FROM s WINDOW w AS (PARTITION BY id ORDER BY t_s)), "
        "r0 AS (SELECT *, sum(chg) OVER w AS run FROM c0 WINDOW w AS (PARTITION BY id ORDER BY t_s)), "
        "runs0 AS (SELECT id, run, min(g) AS g, min(t_s) AS t_first, max(t_s) AS t_last FROM r0 GROUP BY id, run), "
        "runs1 AS (SELECT *, lag(g) OVER w AS g_prev, lead(t_first) OVER w AS t_next, "
        "lead(run) OVER w AS run_next FROM runs0 WINDOW w AS (PARTITION BY id ORDER BY run)), "
        "deb AS (SELECT r0.id, r0.t_s, r0.alt_ft, "
        f"CASE WHEN x.g_prev IS NOT NULL AND x.run_next IS NOT NULL AND x.t_next - x.t_first < {float(flag_debounce_s)} "
        "THEN x.g_prev ELSE r0.g END AS gd FROM r0 JOIN runs1 x ON x.id = r0.id AND x.run = r0.run), "
        # runs of the debounced state → ground stays
        "c1 AS (SELECT *, CASE WHEN gd IS DISTINCT FROM lag(gd) OVER w THEN 1 ELSE 0 END AS chg "
        "FROM deb WINDOW w AS (PARTITION BY id ORDER BY t_s)), "
        "r1 AS (SELECT *, sum(chg) OVER w AS run, "
        "lag(gd) OVER w AS gd_prev, lag(t_s) OVER w AS t_prev, lag(alt_ft) OVER w AS alt_prev, "
        f"first_value(alt_ft) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN {float(profile_window_s)} "
        "PRECEDING AND CURRENT ROW) AS alt_back, "
        f"last_value(alt_ft) OVER (PARTITION BY id ORDER BY t_s RANGE BETWEEN CURRENT ROW AND "
        f"{float(profile_window_s)} FOLLOWING) AS alt_ahead, "
        "row_number() OVER w AS rn FROM c1 WINDOW w AS (PARTITION BY id ORDER BY t_s)), "
        "runs2 AS (SELECT id, run, min(gd) AS g, min(t_s) AS t_first, max(t_s) AS t_last FROM r1 GROUP BY id, run), "
        "stays AS (SELECT id, run FROM (SELECT *, coalesce(lead(t_first) OVER w, t_last) - t_first AS dur "
        "FROM runs2 WINDOW w AS (PARTITION BY id ORDER BY run)) "
        f"WHERE g = 1 AND dur >= {float(min_ground_s)}), "
        "flagged AS (SELECT r1.*, st.run IS NOT NULL AS in_stay, "
        "lag(r1.alt_back) OVER w AS alt_back_prev FROM r1 LEFT JOIN stays st ON st.id = r1.id AND st.run = r1.run "
        "WINDOW w AS (PARTITION BY r1.id ORDER BY r1.t_s)), "
        "split AS (SELECT *, CASE "
        "WHEN rn = 1 THEN 'track-start' "
        f"WHEN t_s - t_prev > {float(leg_gap_s)} THEN 'gap' "
        f"WHEN t_s - t_prev > {float(leg_landing_gap_s)} AND alt_prev < {float(leg_low_agl_ft)} "
        f"AND alt_ft < {float(leg_low_agl_ft)} AND alt_back_prev - alt_prev >= {float(air_above_field_ft)} "
        f"AND alt_ahead - alt_ft >= {float(air_above_field_ft)} THEN 'landing-gap' "
        "WHEN in_stay AND run IS DISTINCT FROM lag(run) OVER w AND coalesce(gd_prev, 0) = 0 THEN 'ground' "
        "END AS reason FROM flagged WINDOW w AS (PARTITION BY id ORDER BY t_s)), "
        "numbered AS (SELECT *, count(reason) OVER (PARTITION BY id ORDER BY t_s ROWS UNBOUNDED PRECEDING) AS leg "
        "FROM split) "
        "SELECT id, min(t_s) AS t_start_s, max(t_s) AS t_end_s, count(*) AS n_positions, "
        "arg_min(reason, t_s) AS split_start FROM numbered GROUP BY id, leg ORDER BY id, t_start_s"
    )
    return store.arrow(q, list(rel.params))
