"""SQL behind ``sitewatch aircraft …``: merge identity rows, show one aircraft, list aircraft.

Contract: :func:`merge_aircraft` writes ``aircraft`` rows keyed by ``icao24`` keeping, for
each column, the new value where it has one and the stored value otherwise — so a
database load does not erase the emitter category learnt from the feed, and a feed row
does not erase a registration. :func:`aircraft_row`, :func:`aircraft_activity` and
:func:`list_aircraft` return plain dicts (small results).
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
    rows = store.sql(
        f"SELECT icao24 FROM aircraft WHERE upper(typecode) IN ({', '.join('?' * len(typecodes))})",
        [t.upper() for t in typecodes],
    )
    return {str(r[0]).lower() for r in rows}
