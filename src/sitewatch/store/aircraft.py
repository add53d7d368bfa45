"""The ``aircraft`` table: identity rows merged from feeds and databases, and read back.

Contract: :func:`merge_aircraft` writes ``aircraft`` rows keyed by ``icao24`` keeping, for
each column, the new value where it has one and the stored value otherwise — so a
database load does not erase the emitter category learnt from the feed, and a feed row
does not erase a registration. The reads return plain dicts (small results); an
aircraft's activity is counted from its positions (:mod:`sitewatch.store.positions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from sitewatch import schema as S
from sitewatch.store.db import Store
from sitewatch.store.where import Where


def merge_aircraft(store: Store, rows: pa.Table) -> int:
    """Insert or update ``aircraft`` rows by ``icao24`` (see the module docstring)."""
    data = S.conform("aircraft", rows)
    if data.num_rows == 0:
        return 0
    cols = S.AIRCRAFT.names
    merged = ", ".join(
        "b.icao24" if c == "icao24" else f'coalesce(b."{c}", a."{c}") AS "{c}"' for c in cols
    )
    with store.transaction() as con:
        con.register("_sw_air", data)
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _sw_air_merged AS SELECT {merged} FROM "
                "(SELECT DISTINCT ON (icao24) * FROM _sw_air) b LEFT JOIN aircraft a USING (icao24)"
            )
            con.execute("DELETE FROM aircraft WHERE icao24 IN (SELECT icao24 FROM _sw_air_merged)")
            con.execute("INSERT INTO aircraft SELECT * FROM _sw_air_merged")
            con.execute("DROP TABLE _sw_air_merged")
        finally:
            con.unregister("_sw_air")
    return data.num_rows


def aircraft_row(store: Store, icao24: str) -> dict[str, Any] | None:
    rows = store.rows("SELECT * FROM aircraft WHERE icao24 = ?", [icao24])
    return rows[0] if rows else None


def list_aircraft(store: Store, typecodes: Sequence[str] = (), military: bool = False,
                  seen_only: bool = False, limit: int = 1000) -> list[dict[str, Any]]:
    """Aircraft (optionally of ``typecodes`` / military / seen in positions) with activity."""
    where = Where().any("upper(a.typecode)", [t.upper() for t in typecodes] or None)
    if military:
        where.raw("a.military")
    join = "JOIN" if seen_only else "LEFT JOIN"
    return store.rows(
        "SELECT a.icao24, a.registration, a.typecode, a.type_name, a.operator, a.military, a.category, "
        "p.positions, p.last_seen_utc FROM aircraft a "
        f"{join} (SELECT id, count(*) AS positions, max(t_utc) AS last_seen_utc FROM positions "
        "WHERE source = 'adsb' GROUP BY id) p ON p.id = a.icao24 "
        f"WHERE {where.sql} ORDER BY p.last_seen_utc DESC NULLS LAST, a.icao24 LIMIT ?",
        [*where.params, limit],
    )


def ids_of_types(store: Store, typecodes: Sequence[str]) -> set[str]:
    """Addresses of the aircraft of ``typecodes`` in the workspace's aircraft table."""
    if not typecodes:
        return set()
    w = Where().any("upper(typecode)", [t.upper() for t in typecodes])
    rows = store.sql(f"SELECT icao24 FROM aircraft WHERE {w.sql}", w.params)
    return {str(r[0]).lower() for r in rows}


def aircraft_info(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``aircraft`` rows (registration, typecode, military …) for ``ids`` that have one."""
    if not ids:
        return {}
    t = pa.table({"icao24": pa.array(sorted(set(ids)), pa.string())})
    rows = store.query_with(
        "_sw_ids", t, "SELECT a.icao24, a.registration, a.typecode, a.type_name, a.operator, a.military "
        "FROM aircraft a JOIN _sw_ids USING (icao24)")
    keys = ("icao24", "registration", "typecode", "type_name", "operator", "military")
    return {r[0]: dict(zip(keys, r, strict=True)) for r in rows}


def identities(store: Store, icao24: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Rows of ``aircraft`` (registration, type, operator …) by ICAO address, for the report."""
    keys = sorted({str(k).lower() for k in icao24 if k})
    if not keys:
        return {}
    w = Where().any("icao24", keys)
    rows = store.rows(
        "SELECT icao24, registration, typecode, type_name, operator, military, db_source FROM aircraft "
        f"WHERE {w.sql}", w.params)
    return {str(r["icao24"]): r for r in rows}
