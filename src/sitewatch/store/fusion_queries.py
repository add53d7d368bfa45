"""The SQL behind fusion and the report: what the evidence builder, the indicators, the
assessment and the report read from and write to the store.

Contract: every function takes a :class:`~sitewatch.store.db.Store` and plain values and
returns fully fetched rows (dicts) or Arrow tables; no other fusion module speaks SQL.
Times are aware UTC datetimes. ``bbox`` arguments are ``(min_lon, min_lat, max_lon, max_lat)``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from sitewatch.store.db import Store
from sitewatch.store.where import Where

BBox = tuple[float, float, float, float]


def site_events(store: Store, site: str, near: BBox) -> list[dict[str, Any]]:
    """Events at ``site``, plus events at no watched site whose point lies in ``near``.

    Identity columns of the subject are joined in: ``ac_typecode``, ``ac_type_name``,
    ``ac_military`` (aircraft) and ``vs_name``, ``vs_government``, ``vs_ship_type`` (vessels).
    """
    rows = store.rows(
        "SELECT e.event_id, e.kind, e.site, e.t_start, e.t_end, e.subject, e.subject_kind, e.confidence, "
        "e.lat, e.lon, e.details, e.evidence, e.summary, e.analysis, "
        "a.typecode AS ac_typecode, a.type_name AS ac_type_name, a.military AS ac_military, "
        "v.name AS vs_name, v.government AS vs_government, v.ship_type AS vs_ship_type "
        "FROM events e "
        "LEFT JOIN aircraft a ON e.subject_kind = 'aircraft' AND a.icao24 = e.subject "
        "LEFT JOIN vessels v ON e.subject_kind = 'vessel' AND v.mmsi = e.subject "
        "WHERE e.site = ? OR (e.site IS NULL AND e.lon BETWEEN ? AND ? AND e.lat BETWEEN ? AND ?) "
        "ORDER BY e.t_start, e.kind, e.subject",
        [site, near[0], near[2], near[1], near[3]],
    )
    for r in rows:
        r["details"] = json.loads(r["details"]) if r["details"] else {}
        r["evidence"] = json.loads(r["evidence"]) if r["evidence"] else []
    return rows


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


def site_scenes(store: Store, site: str) -> list[dict[str, Any]]:
    """Scenes of ``site`` in time order (scenes without a time last).

    ``detected`` is true when a detector ran over the scene (a ``detect_runs`` row, or stored
    detections): only then is a class without detections a count of zero; ``model`` names it.
    """
    return store.rows(
        "SELECT s.scene_id, s.site, s.t_utc, s.provider, s.path, s.sha256, s.gsd_m, s.width_px, s.height_px, "
        "s.crs, s.footprint_wkt, s.cloud_flag, "
        "(coalesce(s.simulated, false) OR s.path ILIKE '%simulated%') AS simulated, s.meta, "
        "(r.scene_id IS NOT NULL OR EXISTS (SELECT 1 FROM detections d WHERE d.scene_id = s.scene_id)) "
        "AS detected, r.model FROM scenes s LEFT JOIN detect_runs r ON r.scene_id = s.scene_id "
        "WHERE s.site = ? ORDER BY s.t_utc NULLS LAST, s.scene_id",
        [site],
    )


def detection_counts(store: Store, site: str, max_ids: int = 50) -> list[dict[str, Any]]:
    """Detections of ``site`` counted per scene, zone, class and type — the type only where the
    measured size names exactly one in service (:mod:`sitewatch.detect.types`), otherwise the
    size class in words ("very large transport aircraft").

    ``det_ids`` and ``boxes_px`` ([cx, cy, w, h] in pixels) hold at most ``max_ids`` per group
    (enough to cite and check by eye, bounded).
    """
    return store.rows(
        "SELECT scene_id, zone, class, "
        # the type only where the measured size names one; else its size class in words
        "coalesce(json_extract_string(type_candidates, '$.named.type'), "
        "json_extract_string(type_candidates, '$.size_words'), "
        "json_extract_string(type_candidates, '$[0].type')) AS top_type, count(*) AS n, "
        "avg(score) AS mean_score, avg(lat) AS lat, avg(lon) AS lon, "
        f"list(det_id ORDER BY det_id)[1:{int(max_ids)}] AS det_ids, "
        f"list([round(cx_px, 1), round(cy_px, 1), round(w_px, 1), round(h_px, 1)] ORDER BY det_id)"
        f"[1:{int(max_ids)}] AS boxes_px "
        "FROM detections WHERE site = ? GROUP BY ALL ORDER BY scene_id, zone NULLS FIRST, class, top_type",
        [site],
    )


def site_observations(store: Store, site: str) -> list[dict[str, Any]]:
    """Analyst observations of ``site`` with the path and hash of the file they came from."""
    return store.rows(
        "SELECT o.*, l.path AS file_path, l.sha256 AS file_sha256 FROM observations o "
        "LEFT JOIN ingest_log l USING (file_id) WHERE o.site = ? ORDER BY o.t_utc, o.obs_id",
        [site],
    )


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


def replace_evidence(store: Store, site: str, prefix: str, rows: pa.Table) -> int:
    """Replace ``site``'s evidence rows whose id starts with ``prefix`` by ``rows``, atomically."""
    with store.transaction():
        store.sql("DELETE FROM evidence WHERE site = ? AND starts_with(evidence_id, ?)", [site, prefix])
        return store.insert("evidence", rows) if rows.num_rows else 0


def observed_sites(store: Store) -> set[str]:
    """Sites named by the stored analyst observations."""
    return {str(r[0]) for r in store.sql("SELECT DISTINCT site FROM observations WHERE site IS NOT NULL")}


def list_evidence(
    store: Store,
    site: str | None = None,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    kinds: list[str] | None = None,
    ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Evidence rows in time order, filtered; ``ref`` decoded from JSON."""
    if ids is not None and not ids:
        return []
    w = Where().eq("site", site or None).window(t_from, t_to).any("kind", kinds or None).any("evidence_id", ids)
    rows = store.rows(f"SELECT * FROM evidence WHERE {w.sql} ORDER BY t_start, kind, evidence_id", w.params)
    for r in rows:
        r["ref"] = json.loads(r["ref"]) if r["ref"] else {}
    return rows


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


# -- assessments -----------------------------------------------------------------------

def assessment_revisions(store: Store, site: str, hypothesis: str | None = None,
                         as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Issued assessment revisions, oldest first; JSON columns decoded."""
    w = Where().eq("site", site).eq("hypothesis", hypothesis or None).eq("t_as_of", as_of)
    rows = store.rows(f"SELECT * FROM assessments WHERE {w.sql} ORDER BY hypothesis, t_as_of, revision", w.params)
    for r in rows:
        for k in ("evidence_ids", "body", "changes"):
            r[k] = json.loads(r[k]) if r[k] else None
    return rows


def insert_assessment(store: Store, row: dict[str, Any]) -> None:
    """Store one assessment revision (a dict with the ``assessments`` columns)."""
    from sitewatch import schema

    decl = schema.ASSESSMENTS
    data = {}
    for c in decl.columns:
        v = row.get(c.name)
        if c.type == "JSON" and v is not None and not isinstance(v, str):
            v = json.dumps(v, sort_keys=True, default=str)
        data[c.name] = pa.array([v], c.arrow_type)
    store.insert("assessments", pa.table(data))


def tracks_for(store: Store, refs: pa.Table, max_points: int = 400) -> dict[str, list[tuple[datetime, float, float]]]:
    """:func:`track` for many references at once: ``refs`` has columns key, source, id,
    t_from, t_to; returns key → thinned (t_utc, lat, lon) points in time order."""
    if refs.num_rows == 0:
        return {}
    rows = store.query_with(
        "_sw_trefs", refs,
        "WITH p AS (SELECT r.key, p.t_utc, p.lat, p.lon, "
                "row_number() OVER (PARTITION BY r.key ORDER BY p.t_utc) - 1 AS i, "
                "count(*) OVER (PARTITION BY r.key) AS n FROM _sw_trefs r JOIN positions p "
                "ON p.source = r.source AND p.id = r.id AND p.t_utc BETWEEN r.t_from AND r.t_to) "
                "SELECT key, t_utc, lat, lon FROM p WHERE n <= ? OR i % CAST(ceil(n / ?) AS BIGINT) = 0 "
                "OR i = n - 1 ORDER BY key, t_utc",
                [max_points, max_points])
    out: dict[str, list[tuple[datetime, float, float]]] = {}
    for key, t, lat, lon in rows:
        out.setdefault(str(key), []).append((t, float(lat), float(lon)))
    return out
