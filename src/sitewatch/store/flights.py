"""The ``flights`` table: the legs the air analytics cut, replaced by time window, read back filtered."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from sitewatch.store.db import Store
from sitewatch.store.where import Where


def replace_flights(store: Store, rows: pa.Table, t_from: datetime | None, t_to: datetime | None) -> int:
    """Replace the flights that start inside [t_from, t_to) (all when unbounded) by ``rows``."""
    w = Where().since("t_start", t_from).before("t_start", t_to)
    with store.transaction():
        store.con.execute(f"DELETE FROM flights WHERE {w.sql}", w.params)
        return store.insert("flights", rows, dedupe=True) if rows.num_rows else 0


def flights(store: Store, icao24: str | None = None, airfield: str | None = None,
            t_from: datetime | None = None, t_to: datetime | None = None, limit: int | None = None) -> pa.Table:
    """Rows of the ``flights`` table, filtered by aircraft, origin-or-destination and time."""
    w = Where().eq("icao24", icao24.lower() if icao24 else None).since("t_end", t_from).before("t_start", t_to)
    if airfield:
        w.raw("(origin = ? OR destination = ?)", airfield, airfield)
    q = f"SELECT * EXCLUDE (t_computed_utc) FROM flights WHERE {w.sql} ORDER BY t_start, icao24"
    if limit is not None:
        q += f" LIMIT {int(limit)}"
    return store.arrow(q, w.params)
