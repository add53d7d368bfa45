"""SQL behind the watch rules (see :mod:`sitewatch.alerts.rules`)."""

from __future__ import annotations

from typing import Any

from sitewatch.store.db import Store


def aircraft_positions_in_bbox(store: Store, bbox: tuple[float, float, float, float], types: list[str],
                               military: bool) -> list[dict[str, Any]]:
    """First position per aircraft, UTC day and 0.01° cell inside ``bbox`` matching types/military.

    Grouping by cell keeps the result small while keeping enough points for a radius test.
    """
    x0, y0, x1, y1 = bbox
    conds: list[str] = []
    params: list[Any] = [x0, x1, y0, y1]
    if types:
        conds.append(f"upper(a.typecode) IN ({', '.join('?' for _ in types)})")
        params += types
    if military:
        conds.append("coalesce(a.military, false)")
    match = " OR ".join(conds) if conds else "TRUE"
    return store.rows(
        "SELECT p.id, a.typecode, a.registration, a.military, date_trunc('day', p.t_utc) AS day, "
        "min(p.t_utc) AS t_utc, arg_min(p.lat, p.t_utc) AS lat, arg_min(p.lon, p.t_utc) AS lon "
        "FROM positions p JOIN aircraft a ON a.icao24 = p.id "
        "WHERE p.source = 'adsb' AND p.lon BETWEEN ? AND ? AND p.lat BETWEEN ? AND ? "
        f"AND ({match}) "
        "GROUP BY p.id, a.typecode, a.registration, a.military, day, round(p.lat, 2), round(p.lon, 2) "
        "ORDER BY t_utc",
        params,
    )


def events_of_kind(store: Store, kind: str, site: str | None, min_conf: float) -> list[dict[str, Any]]:
    q = ("SELECT event_id, kind, site, t_start, t_end, subject, confidence, summary FROM events "
         "WHERE kind = ? AND confidence >= ?")
    params: list[Any] = [kind, min_conf]
    if site:
        q += " AND site = ?"
        params.append(site)
    return store.rows(q + " ORDER BY t_start", params)


def evidence_of_kind(store: Store, kind: str, site: str) -> list[dict[str, Any]]:
    return store.rows(
        "SELECT evidence_id, t_start, value, text FROM evidence WHERE kind = ? AND site = ? "
        "AND value IS NOT NULL ORDER BY t_start", [kind, site])


def latest_assessments(store: Store, site: str, hypothesis: str) -> list[dict[str, Any]]:
    return store.rows(
        "SELECT assessment_id, t_as_of, revision, probability, likelihood, confidence FROM assessments "
        "WHERE site = ? AND hypothesis = ? ORDER BY t_issued_utc", [site, hypothesis])


def existing_alert_ids(store: Store, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    out: set[str] = set()
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        out |= {r[0] for r in store.sql(
            f"SELECT alert_id FROM alerts WHERE alert_id IN ({', '.join('?' for _ in chunk)})", chunk)}
    return out


def list_alerts(store: Store, limit: int = 100, rule: str | None = None) -> list[dict[str, Any]]:
    q = "SELECT alert_id, rule, t_utc, site, subject, text, delivery, t_fired_utc FROM alerts"
    params: list[Any] = []
    if rule:
        q += " WHERE rule = ?"
        params.append(rule)
    return store.rows(q + " ORDER BY t_fired_utc DESC, t_utc DESC LIMIT ?", [*params, limit])
