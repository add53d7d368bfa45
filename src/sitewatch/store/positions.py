"""The ``positions`` table: reads and summaries (the analytics' scans are in
:mod:`~sitewatch.store.positions_air` and :mod:`~sitewatch.store.positions_sea`).

Contract: every function takes a :class:`~sitewatch.store.db.Store` and plain values and
returns fully fetched rows (dicts, tuples) or streams Arrow batches; nothing here writes
(rows go in through :mod:`sitewatch.store.writer`). A summary about one subject (an
aircraft's or a vessel's activity) lives here when it is counted from its positions.
``bbox`` arguments are ``(min_lon, min_lat, max_lon, max_lat)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch.sites import Site
from sitewatch.store import aircraft, events, vessels
from sitewatch.store.db import Store
from sitewatch.store.where import BBox, Where

POSITION_COLUMNS = ("t_utc", "source", "id", "lat", "lon", "alt_ft", "speed_kt", "track_deg", "onground")


def position_batches(
    store: Store,
    site: Site | None = None,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    source: str | None = None,
    columns: tuple[str, ...] = POSITION_COLUMNS,
    rows_per_batch: int = 500_000,
) -> Iterator[pa.RecordBatch]:
    """Positions in time order, optionally inside ``site``'s watch area and a time window."""
    w = (Where().bbox(site.bbox() if site is not None else None).since("t_utc", t_from).before("t_utc", t_to)
         .eq("source", source))
    cols = ", ".join(f'"{c}"' for c in columns)
    q = f"SELECT {cols} FROM positions WHERE {w.sql} ORDER BY t_utc, source, id"
    for rb in store.batches(q, w.params, rows_per_batch):
        if site is not None and rb.num_rows:
            lat = rb.column("lat").to_numpy(zero_copy_only=False)
            lon = rb.column("lon").to_numpy(zero_copy_only=False)
            mask = np.asarray(site.contains(lat, lon), dtype=bool)
            rb = rb.filter(pa.array(mask))
        if rb.num_rows:
            yield rb


def track_points(store: Store, bbox: tuple[float, float, float, float], t_from: datetime | None,
                 t_to: datetime | None, source: str | None, max_points: int) -> list[dict[str, Any]]:
    """Positions in ``bbox``, thinned to about ``max_points`` by keeping every k-th per subject."""
    where = Where().bbox(bbox).since("t_utc", t_from).before("t_utc", t_to).eq("source", source or None)
    w, params = where.sql, where.params
    total = int(store.scalar(f"SELECT count(*) FROM positions WHERE {w}", params) or 0)
    k = max(1, -(-total // max(1, max_points)))
    return store.rows(
        f"SELECT source, id, t_utc, lat, lon, alt_ft, speed_kt, file_id FROM ("
        f"SELECT *, row_number() OVER (PARTITION BY source, id ORDER BY t_utc) AS rn, "
        f"count(*) OVER (PARTITION BY source, id) AS cnt FROM positions WHERE {w}) "
        "WHERE (rn - 1) % ? = 0 OR rn = cnt ORDER BY source, id, t_utc", [*params, k])


def time_span(store: Store, bbox: BBox) -> dict[str, Any]:
    """First and last time (and count) of the positions in ``bbox``, beside the events' span."""
    w = Where().bbox(bbox)
    rows = store.rows(f"SELECT min(t_utc) AS t_min, max(t_utc) AS t_max, count(*) AS n FROM positions WHERE {w.sql}",
                      w.params)
    return {"positions": rows[0], "events": events.span(store)}


def positions_after_row(store: Store, row: int, limit: int) -> list[dict[str, Any]]:
    """Positions appended after row ``row`` (DuckDB's rowid grows with appends; a live
    session keeps one file_id for all its batches, so file_id cannot mark what is new)."""
    return store.rows("SELECT rowid AS row, source, id, t_utc, lat, lon, alt_ft, speed_kt, file_id FROM positions "
                      "WHERE rowid > ? ORDER BY rowid LIMIT ?", [row, limit])


def high_water(store: Store) -> dict[str, Any]:
    """The last position row and the last time events were computed: what a live view has seen."""
    return {"row": int(store.scalar("SELECT coalesce(max(rowid), -1) FROM positions") or -1),
            "t_computed": events.last_computed(store)}


def subject_identity(store: Store, ident: str) -> dict[str, Any]:
    """An aircraft's or vessel's identity row (either may be None) and its positions per source."""
    a = aircraft.aircraft_row(store, ident.lower())
    v = vessels.vessel_rows(store, mmsi=ident)
    summary = store.rows(
        "SELECT source, count(*) AS positions, min(t_utc) AS t_first, max(t_utc) AS t_last, "
        "min(lat) AS lat_min, max(lat) AS lat_max, min(lon) AS lon_min, max(lon) AS lon_max "
        "FROM positions WHERE id = ? GROUP BY source", [ident.lower() if not ident.isdigit() else ident])
    return {"aircraft": a, "vessel": v[0] if v else None, "positions": summary}


def coverage_days(store: Store, near: BBox, files: bool = False) -> list[dict[str, Any]]:
    """Positions per UTC day and source (adsb/ais) inside ``near``: which days a sensor saw the area.

    With ``files``: also ``n_ids`` (distinct aircraft/vessels), ``shas`` (content hashes of the
    files they came from) and ``simulated`` (any of those files from the simulator).
    """
    if not files:
        return store.rows(
            "SELECT CAST(date_trunc('day', t_utc) AS DATE) AS day, source, count(*) AS n FROM positions "
            "WHERE lon BETWEEN ? AND ? AND lat BETWEEN ? AND ? GROUP BY ALL ORDER BY day, source",
            [near[0], near[2], near[1], near[3]],
        )
    return store.rows(
        "SELECT CAST(date_trunc('day', p.t_utc) AS DATE) AS day, p.source, count(*) AS n, "
        "count(DISTINCT p.id) AS n_ids, list(DISTINCT l.sha256 ORDER BY l.sha256) AS shas, "
        "bool_or(coalesce(l.path ILIKE '%simulated%' OR l.format ILIKE '%sim%', false)) AS simulated "
        "FROM positions p LEFT JOIN ingest_log l ON l.file_id = p.file_id "
        "WHERE p.lon BETWEEN ? AND ? AND p.lat BETWEEN ? AND ? GROUP BY ALL ORDER BY day, p.source",
        [near[0], near[2], near[1], near[3]],
    )


def position_files(store: Store, refs: pa.Table) -> dict[str, dict[str, Any]]:
    """For each ``key`` in ``refs`` (columns key, source, id, t_from, t_to): the files its
    positions came from (``files``: path, sha256, first and last line/offset), their content
    hashes (``sha256``) and whether any of them was simulated (the simulator names its files
    ``*.SIMULATED.*``; a format or options may also say so)."""
    if refs.num_rows == 0:
        return {}
    res = store.query_with(
        "_sw_refs", refs,
        "SELECT r.key, l.path, l.sha256, min(p.rec_offset), max(p.rec_offset), "
                "bool_or(coalesce(l.format ILIKE '%sim%' OR l.path ILIKE '%simulated%' "
                "OR l.options ILIKE '%\"simulated\": true%', false)) "
                "FROM _sw_refs r JOIN positions p ON p.source = r.source AND p.id = r.id "
                "AND p.t_utc BETWEEN r.t_from AND r.t_to JOIN ingest_log l ON l.file_id = p.file_id "
                "GROUP BY r.key, l.path, l.sha256 ORDER BY r.key, l.path")
    out: dict[str, dict[str, Any]] = {}
    for key, path, sha, first, last, sim in res:
        d = out.setdefault(key, {"sha256": [], "files": [], "simulated": False})
        if sha:
            d["sha256"].append(sha)
        d["files"].append({"path": path, "sha256": sha, "first": first, "last": last})
        d["simulated"] = d["simulated"] or bool(sim)
    return out


def track(store: Store, source: str, ident: str, t0: datetime, t1: datetime,
          max_points: int = 400) -> list[tuple[datetime, float, float]]:
    """(t_utc, lat, lon) of one aircraft/vessel between ``t0`` and ``t1``, thinned evenly
    to at most ``max_points`` (first and last kept)."""
    rows = store.sql(
        "WITH p AS (SELECT t_utc, lat, lon, row_number() OVER (ORDER BY t_utc) - 1 AS i, "
        "count(*) OVER () AS n FROM positions WHERE source = ? AND id = ? AND t_utc BETWEEN ? AND ?) "
        "SELECT t_utc, lat, lon FROM p WHERE n <= ? OR i % CAST(ceil(n / ?) AS BIGINT) = 0 OR i = n - 1 "
        "ORDER BY t_utc",
        [source, ident, t0, t1, max_points, max_points],
    )
    return [(r[0], float(r[1]), float(r[2])) for r in rows]


def tracks_for(store: Store, refs: pa.Table, max_points: int = 400) -> dict[str, list[tuple[datetime, float, float]]]:
    """:func:`track` for many references at once: ``refs`` has columns key, source, id,
    t_from, t_to; returns key → thinned (t_utc, lat, lon) points in time order."""
    out: dict[str, list[tuple[datetime, float, float]]] = {}
    for key, t, lat, lon in _thinned(store, refs, max_points, altitude=False):
        out.setdefault(str(key), []).append((t, float(lat), float(lon)))
    return out


def tracks_with_altitude(store: Store, refs: pa.Table, max_points: int = 400
                         ) -> dict[str, list[tuple[datetime, float, float, float | None]]]:
    """:func:`tracks_for` with each point's reported altitude (feet, None where unknown)."""
    out: dict[str, list[tuple[datetime, float, float, float | None]]] = {}
    for key, t, lat, lon, alt_ft in _thinned(store, refs, max_points, altitude=True):
        out.setdefault(str(key), []).append((t, float(lat), float(lon), alt_ft))
    return out


def _thinned(store: Store, refs: pa.Table, max_points: int, altitude: bool) -> list[tuple[Any, ...]]:
    """Each reference's positions thinned evenly to at most ``max_points`` (first and last kept):
    key, t_utc, lat, lon (and alt_ft), by key and time."""
    if refs.num_rows == 0:
        return []
    extra = ", alt_ft" if altitude else ""
    return store.query_with(
        "_sw_trefs", refs,
        f"WITH p AS (SELECT r.key, p.t_utc, p.lat, p.lon{extra}, "
        "row_number() OVER (PARTITION BY r.key ORDER BY p.t_utc) - 1 AS i, "
        "count(*) OVER (PARTITION BY r.key) AS n FROM _sw_trefs r JOIN positions p "
        "ON p.source = r.source AND p.id = r.id AND p.t_utc BETWEEN r.t_from AND r.t_to) "
        f"SELECT key, t_utc, lat, lon{extra} FROM p WHERE n <= ? OR i % CAST(ceil(n / ?) AS BIGINT) = 0 "
        "OR i = n - 1 ORDER BY key, t_utc",
        [max_points, max_points])


def nearest_adsb(store: Store, refs: pa.Table, within_s: int) -> list[tuple[Any, dict[str, Any]]]:
    """For each ``refs`` row (key, id, t): the aircraft's ADS-B report nearest ``t`` within
    ``within_s`` seconds, as ``{alt, og, lat, lon}`` (keys without one are left out)."""
    return store.query_with(
        "_sw_arefs", refs,
        "SELECT r.key, arg_min({'alt': p.alt_ft, 'og': p.onground, 'lat': p.lat, 'lon': p.lon}, "
        "abs(epoch(p.t_utc) - epoch(r.t))) "
        "FROM _sw_arefs r JOIN positions p ON p.source = 'adsb' AND p.id = r.id "
        f"AND p.t_utc BETWEEN r.t - INTERVAL {int(within_s)} SECOND AND r.t + INTERVAL {int(within_s)} SECOND "
        "GROUP BY r.key")


def aircraft_activity(store: Store, icao24: str) -> dict[str, Any]:
    """Positions summary of one aircraft: count, first/last time, last fix, callsigns."""
    summary = store.rows(
        "SELECT count(*) AS positions, min(t_utc) AS first_seen_utc, max(t_utc) AS last_seen_utc, "
        "list(DISTINCT callsign ORDER BY callsign) FILTER (WHERE callsign IS NOT NULL) AS callsigns "
        "FROM positions WHERE source = 'adsb' AND id = ?",
        [icao24],
    )[0]
    last = store.rows(
        "SELECT t_utc, lat, lon, alt_ft, speed_kt, onground, format FROM positions "
        "WHERE source = 'adsb' AND id = ? ORDER BY t_utc DESC LIMIT 1",
        [icao24],
    )
    summary["last_fix"] = last[0] if last else None
    return summary


def vessel_activity(store: Store, mmsi: str) -> dict[str, Any]:
    """Positions and static reports of one MMSI: counts and first/last times."""
    pos = store.rows(
        "SELECT count(*) AS positions, min(t_utc) AS first_seen_utc, max(t_utc) AS last_seen_utc "
        "FROM positions WHERE source = 'ais' AND id = ?", [mmsi])[0]
    return {**pos, "static_reports": vessels.report_count(store, mmsi)}


def callsigns(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """The most frequent callsign of each aircraft in ``ids`` (positions table)."""
    if not ids:
        return {}
    t = pa.table({"id": pa.array(sorted(set(ids)), pa.string())})
    rows = store.query_with(
        "_sw_ids", t, "SELECT id, mode(callsign) FROM positions JOIN _sw_ids USING (id) "
        "WHERE source = 'adsb' AND callsign IS NOT NULL GROUP BY id")
    return {r[0]: r[1] for r in rows if r[1]}


def aircraft_positions_in_bbox(store: Store, bbox: tuple[float, float, float, float], types: list[str],
                               military: bool) -> list[dict[str, Any]]:
    """First position per aircraft, UTC day and 0.01° cell inside ``bbox`` matching types/military.

    Grouping by cell keeps the result small while keeping enough points for a radius test.
    """
    match = Where().any("upper(a.typecode)", types or None)
    w = Where("p.source = 'adsb'").bbox(bbox, "p.lat", "p.lon").either(match, Where("coalesce(a.military, false)" if military else ""))
    return store.rows(
        "SELECT p.id, a.typecode, a.registration, a.military, date_trunc('day', p.t_utc) AS day, "
        "min(p.t_utc) AS t_utc, arg_min(p.lat, p.t_utc) AS lat, arg_min(p.lon, p.t_utc) AS lon "
        "FROM positions p JOIN aircraft a ON a.icao24 = p.id "
        f"WHERE {w.sql} "
        "GROUP BY p.id, a.typecode, a.registration, a.military, day, round(p.lat, 2), round(p.lon, 2) "
        "ORDER BY t_utc",
        w.params,
    )
