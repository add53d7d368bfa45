"""SQL behind the dashboard API and its tokens (read paths are bounded by ``limit``)."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

from sitewatch.store.db import Store
from sitewatch.store.where import Where


def insert_token(store: Store, row: dict[str, Any]) -> None:
    import pyarrow as pa

    from sitewatch import schema

    store.insert("tokens", pa.Table.from_pylist([row], schema=schema.TOKENS.arrow_schema()))


def tokens(store: Store) -> list[dict[str, Any]]:
    return store.rows("SELECT token_id, name, scope, hash, salt, t_created_utc, revoked FROM tokens "
                      "ORDER BY t_created_utc")


def revoke_token(store: Store, token_id: str) -> int:
    n = store.scalar("SELECT count(*) FROM tokens WHERE token_id = ?", [token_id])
    store.sql("UPDATE tokens SET revoked = true WHERE token_id = ?", [token_id])
    return int(n or 0)


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


def time_span(store: Store, bbox: tuple[float, float, float, float]) -> dict[str, Any]:
    x0, y0, x1, y1 = bbox
    rows = store.rows("SELECT min(t_utc) AS t_min, max(t_utc) AS t_max, count(*) AS n FROM positions "
                      "WHERE lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?", [x0, x1, y0, y1])
    ev = store.rows("SELECT min(t_start) AS t_min, max(coalesce(t_end, t_start)) AS t_max FROM events")
    return {"positions": rows[0], "events": ev[0]}


def subject_identity(store: Store, ident: str) -> dict[str, Any]:
    a = store.rows("SELECT * FROM aircraft WHERE icao24 = ?", [ident.lower()])
    v = store.rows("SELECT * FROM vessels WHERE mmsi = ?", [ident])
    summary = store.rows(
        "SELECT source, count(*) AS positions, min(t_utc) AS t_first, max(t_utc) AS t_last, "
        "min(lat) AS lat_min, max(lat) AS lat_max, min(lon) AS lon_min, max(lon) AS lon_max "
        "FROM positions WHERE id = ? GROUP BY source", [ident.lower() if not ident.isdigit() else ident])
    return {"aircraft": a[0] if a else None, "vessel": v[0] if v else None, "positions": summary}


def latest_assessments(store: Store, site: str) -> list[dict[str, Any]]:
    """The most recently issued set of competing hypotheses of ``site`` (issued together, so
    their probabilities sum to 1); what-ifs are never issued unless saved."""
    return store.rows(
        "SELECT site, hypothesis, t_as_of, revision, t_issued_utc, probability, likelihood, confidence, body "
        "FROM assessments WHERE site = ? AND t_issued_utc = (SELECT max(t_issued_utc) FROM assessments "
        "WHERE site = ?) ORDER BY probability DESC", [site, site])


def evidence_for_site(store: Store, site: str, t_from: datetime | None, t_to: datetime | None,
                      limit: int) -> list[dict[str, Any]]:
    w = Where().eq("site", site).window(t_from, t_to)
    rows = store.rows(f"SELECT * FROM evidence WHERE {w.sql} ORDER BY t_start LIMIT ?", [*w.params, limit])
    for r in rows:  # the reference is stored as JSON text: hand it on as an object
        if isinstance(r.get("ref"), str):
            with contextlib.suppress(ValueError):
                r["ref"] = json.loads(r["ref"])
    return rows


def events_since(store: Store, computed_after: datetime | None, limit: int) -> list[dict[str, Any]]:
    if computed_after is None:
        return []
    return store.rows("SELECT event_id, kind, site, t_start, t_end, subject, confidence, summary, lat, lon, "
                      "t_computed_utc FROM events WHERE t_computed_utc > ? ORDER BY t_computed_utc LIMIT ?",
                      [computed_after, limit])


def positions_after_row(store: Store, row: int, limit: int) -> list[dict[str, Any]]:
    """Positions appended after row ``row`` (DuckDB's rowid grows with appends; a live
    session keeps one file_id for all its batches, so file_id cannot mark what is new)."""
    return store.rows("SELECT rowid AS row, source, id, t_utc, lat, lon, alt_ft, speed_kt, file_id FROM positions "
                      "WHERE rowid > ? ORDER BY rowid LIMIT ?", [row, limit])


def high_water(store: Store) -> dict[str, Any]:
    return {"row": int(store.scalar("SELECT coalesce(max(rowid), -1) FROM positions") or -1),
            "t_computed": store.scalar("SELECT max(t_computed_utc) FROM events")}


def scenes(store: Store, site: str | None) -> list[dict[str, Any]]:
    q = ("SELECT scene_id, site, t_utc, provider, gsd_m, width_px, height_px, footprint_wkt, simulated "
         "FROM scenes")
    if site:
        return store.rows(q + " WHERE site = ? ORDER BY t_utc", [site])
    return store.rows(q + " ORDER BY t_utc")


def scene_detection_counts(store: Store, scene_id: str) -> list[dict[str, Any]]:
    return store.rows("SELECT class, zone, count(*) AS n FROM detections WHERE scene_id = ? "
                      "GROUP BY class, zone ORDER BY class, zone", [scene_id])


_SIM_PATH = "(path ILIKE '%simulated%')"


def simulated_sites(store: Store) -> dict[str, bool]:
    """site → whether any of its evidence, scenes or observations is SIMULATED."""
    rows = store.rows(
        "SELECT site, bool_or(sim) AS sim FROM ("
        "SELECT site, coalesce(simulated, false) AS sim FROM evidence "
        f"UNION ALL SELECT site, coalesce(simulated, false) OR coalesce({_SIM_PATH}, false) FROM scenes "
        "UNION ALL SELECT site, coalesce(simulated, false) FROM observations) WHERE site IS NOT NULL GROUP BY site")
    return {str(r["site"]): bool(r["sim"]) for r in rows}


def workspace_simulated(store: Store) -> bool:
    """Whether the workspace holds any SIMULATED data: a file the simulator wrote (its name says
    SIMULATED) or a simulated evidence row, scene or observation."""
    files = store.scalar("SELECT count(*) FROM ingest_log WHERE coalesce(path ILIKE '%simulated%' "
                         "OR format ILIKE '%sim%' OR options ILIKE '%\"simulated\": true%', false)")
    return bool(files) or any(simulated_sites(store).values())



def last_day_of_events(store: Store, site: str) -> dict[str, Any]:
    """The site's latest event time and how many events started in the 24 h up to it (what
    "the last day" means for a workspace whose data stop in the past, as the demo's do)."""
    rows = store.rows(
        "WITH last AS (SELECT max(t_start) AS t FROM events WHERE site = ?) "
        "SELECT (SELECT t FROM last) AS t_last, count(*) AS n FROM events, last "
        "WHERE site = ? AND t_start > last.t - INTERVAL 1 DAY", [site, site])
    return {"t_last_event": rows[0]["t_last"] if rows else None, "events_last_day": int(rows[0]["n"]) if rows else 0}
