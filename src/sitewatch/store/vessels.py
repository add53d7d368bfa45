"""The ``vessels`` and ``vessel_reports`` tables: AIS identity.

:func:`latest_static` folds the static reports into one row per MMSI for
:mod:`sitewatch.vessels`, which derives flags and markers and :func:`replace_vessels` the
whole table; the rest are reads (plain dicts, small results).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from sitewatch.store.db import Store
from sitewatch.store.where import Where

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


def vessel_rows(store: Store, *, mmsi: str | None = None, name: str | None = None, government: bool = False,
                watched: bool = False, flag: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``vessels`` by MMSI order; unset filters filter nothing (``name``: the upper-case
    name as stored; ``government``/``watched``: only vessels so marked)."""
    w = (Where("government" if government else "", "watch" if watched else "")
         .eq("mmsi", mmsi).eq("upper(name)", name).eq("flag", flag))
    return store.rows(f"SELECT * FROM vessels WHERE {w.sql} ORDER BY mmsi", w.params)


def report_count(store: Store, mmsi: str) -> int:
    """How many static reports of ``mmsi`` are stored."""
    return int(store.scalar("SELECT count(*) FROM vessel_reports WHERE mmsi = ?", [mmsi]) or 0)


def watched_count(store: Store) -> int:
    """How many vessels are on the watchlist."""
    return int(store.scalar("SELECT count(*) FROM vessels WHERE watch") or 0)


def vessel_info(store: Store, ids: list[str]) -> dict[str, dict[str, Any]]:
    """{mmsi: {name, ship_type, flag, government, watch}} from the ``vessels`` table, for ``ids``."""
    if not ids:
        return {}
    tbl = pa.table({"mmsi": pa.array(ids, pa.string())})
    with store.registered("_sw_ids", tbl):
        rows = store.rows("SELECT v.mmsi, v.name, v.ship_type, v.flag, v.government, v.watch FROM vessels v "
                          "JOIN _sw_ids i USING (mmsi)")
    return {r.pop("mmsi"): r for r in rows}


def identities(store: Store, mmsi: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Rows of ``vessels`` (name, type, flag, size, government marker) by MMSI, for the report."""
    keys = sorted({str(k) for k in mmsi if k})
    if not keys:
        return {}
    w = Where().any("mmsi", keys)
    rows = store.rows(
        "SELECT mmsi, name, callsign, imo, ship_type, length_m, width_m, flag, government, gov_reason "
        f"FROM vessels WHERE {w.sql}", w.params)
    return {str(r["mmsi"]): r for r in rows}
