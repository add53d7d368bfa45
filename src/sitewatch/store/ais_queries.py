"""SQL for AIS vessel identity: the latest static fields per MMSI, and replacing ``vessels``.

Used by :mod:`sitewatch.vessels`; nothing else here speaks for AIS.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sitewatch.store.db import Store

_FIELDS = ("name", "callsign", "imo", "ship_type", "length_m", "width_m", "draught_m", "destination")


def latest_static(store: Store) -> pa.Table:
    """One row per MMSI seen (in reports or AIS positions): the latest non-null value of each static field."""
    picks = ",\n  ".join(f"arg_max({f}, t_utc) FILTER (WHERE {f} IS NOT NULL) AS {f}" for f in _FIELDS)
    return store.arrow(
        f"""
        WITH latest AS (
          SELECT mmsi,
          {picks},
          max(t_utc) AS t_updated_utc
          FROM vessel_reports GROUP BY mmsi
        ),
        seen AS (SELECT DISTINCT id AS mmsi FROM positions WHERE source = 'ais')
        SELECT coalesce(l.mmsi, s.mmsi) AS mmsi, {", ".join("l." + f for f in _FIELDS)}, l.t_updated_utc
        FROM latest l FULL OUTER JOIN seen s ON l.mmsi = s.mmsi
        ORDER BY 1
        """
    )


def replace_vessels(store: Store, rows: pa.Table) -> int:
    """Replace the whole ``vessels`` table with ``rows`` in one transaction."""
    with store.transaction():
        store.con.execute("DELETE FROM vessels")
        store.insert("vessels", rows, dedupe=False)
    return rows.num_rows


def vessel_rows(store: Store, where: str = "", params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``vessels`` (``where`` is a trusted SQL condition built by the caller with ``?`` params)."""
    q = "SELECT * FROM vessels" + (f" WHERE {where}" if where else "") + " ORDER BY mmsi"
    return store.rows(q, params or [])


def vessel_activity(store: Store, mmsi: str) -> dict[str, Any]:
    """Positions and static reports of one MMSI: counts and first/last times."""
    pos = store.rows(
        "SELECT count(*) AS positions, min(t_utc) AS first_seen_utc, max(t_utc) AS last_seen_utc "
        "FROM positions WHERE source = 'ais' AND id = ?", [mmsi])[0]
    reps = store.scalar("SELECT count(*) FROM vessel_reports WHERE mmsi = ?", [mmsi])
    return {**pos, "static_reports": int(reps or 0)}
