"""The ``events`` table: what the analyses found, read by the CLI, the dashboard, fusion,
alerts and the report; written whole per analysis (:func:`replace_analysis`).

``details``/``evidence`` are JSON text in the table and decoded by the list functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from sitewatch.errors import InputError
from sitewatch.store.db import Store
from sitewatch.store.where import BBox, Where


def list_events(
    store: Store,
    site: str | None = None,
    kinds: list[str] | None = None,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    subject: str | None = None,
    limit: int | None = None,
    event_id: str | None = None,
) -> list[dict[str, Any]]:
    """Events in time order, filtered; ``details``/``evidence`` decoded from JSON."""
    w = (Where().eq("site", site or None).any("kind", kinds or None).window(t_from, t_to)
         .eq("subject", subject or None).eq("event_id", event_id or None))
    q = ("SELECT event_id, kind, site, t_start, t_end, subject, subject_kind, confidence, lat, lon, "
         f"summary, details, evidence, analysis FROM events WHERE {w.sql} ORDER BY t_start, kind, subject")
    if limit is not None:
        if limit < 0:
            raise InputError("--limit must be >= 0")
        q += f" LIMIT {int(limit)}"
    rows = store.rows(q, w.params)
    for r in rows:
        r["details"] = json.loads(r["details"]) if r["details"] else {}
        r["evidence"] = json.loads(r["evidence"]) if r["evidence"] else []
    return rows


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


def events_of_kind(store: Store, kind: str, site: str | None, min_conf: float) -> list[dict[str, Any]]:
    """Events of ``kind`` (at ``site``, any site when None) with at least ``min_conf``, oldest first."""
    w = Where().eq("kind", kind).raw("confidence >= ?", min_conf).eq("site", site or None)
    return store.rows("SELECT event_id, kind, site, t_start, t_end, subject, confidence, summary FROM events "
                      f"WHERE {w.sql} ORDER BY t_start", w.params)


def events_since(store: Store, computed_after: datetime | None, limit: int) -> list[dict[str, Any]]:
    """Events computed after ``computed_after`` (none when None), in the order they were computed."""
    if computed_after is None:
        return []
    return store.rows("SELECT event_id, kind, site, t_start, t_end, subject, confidence, summary, lat, lon, "
                      "t_computed_utc FROM events WHERE t_computed_utc > ? ORDER BY t_computed_utc LIMIT ?",
                      [computed_after, limit])


def last_day_of_events(store: Store, site: str) -> dict[str, Any]:
    """The site's latest event time and how many events started in the 24 h up to it (what
    "the last day" means for a workspace whose data stop in the past, as the demo's do)."""
    rows = store.rows(
        "WITH last AS (SELECT max(t_start) AS t FROM events WHERE site = ?) "
        "SELECT (SELECT t FROM last) AS t_last, count(*) AS n FROM events, last "
        "WHERE site = ? AND t_start > last.t - INTERVAL 1 DAY", [site, site])
    return {"t_last_event": rows[0]["t_last"] if rows else None, "events_last_day": int(rows[0]["n"]) if rows else 0}


def span(store: Store) -> dict[str, Any]:
    """First start and last end (or start) of every event."""
    return store.rows("SELECT min(t_start) AS t_min, max(coalesce(t_end, t_start)) AS t_max FROM events")[0]


def last_computed(store: Store) -> datetime | None:
    """When events were last computed (None before any analysis)."""
    t: datetime | None = store.scalar("SELECT max(t_computed_utc) FROM events")
    return t


def replace_analysis(store: Store, analysis: str, rows: pa.Table) -> int:
    """Replace every event of ``analysis`` by ``rows`` (conformed to ``events``), atomically."""
    with store.transaction():
        store.sql("DELETE FROM events WHERE analysis = ?", [analysis])
        return store.insert("events", rows, dedupe=True) if rows.num_rows else 0


def of_analysis(store: Store, analysis: str, kind: str) -> list[dict[str, Any]]:
    """Events of ``kind`` found by ``analysis`` (``details``/``evidence`` as stored JSON text),
    by start time and subject: what a later analysis builds on."""
    return store.rows(
        "SELECT event_id, subject, t_start, t_end, details, evidence FROM events "
        "WHERE kind = ? AND analysis = ? ORDER BY t_start, subject", [kind, analysis])


def stored_kinds(store: Store) -> list[dict[str, Any]]:
    """Every stored (kind, subject_kind, analysis)."""
    return store.rows("SELECT DISTINCT kind, subject_kind, analysis FROM events")


def aircraft_arrivals(store: Store, site: str, since: datetime, at: datetime) -> list[dict[str, Any]]:
    """Arrivals and dark visits of aircraft at ``site`` starting in [since, at], with the
    aircraft's registration and type, oldest first."""
    return store.rows(
        "SELECT e.event_id, e.kind, e.subject, e.t_start, e.t_end, e.details, a.registration, a.typecode "
        "FROM events e LEFT JOIN aircraft a ON a.icao24 = e.subject "
        "WHERE e.site = ? AND e.subject_kind = 'aircraft' AND e.kind IN ('arrival', 'dark-visit') "
        "AND e.t_start BETWEEN ? AND ? ORDER BY e.t_start, e.event_id", [site, since, at])


def departures(store: Store, site: str, subjects: Sequence[str], since: datetime) -> list[dict[str, Any]]:
    """Departures of ``subjects`` from ``site`` from ``since`` on (subject, t_start), oldest first."""
    w = Where("kind = 'departure'").eq("site", site).any("subject", subjects).since("t_start", since)
    return store.rows(f"SELECT subject, t_start FROM events WHERE {w.sql} ORDER BY t_start", w.params)
