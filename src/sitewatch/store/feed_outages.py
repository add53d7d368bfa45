"""Outages of live feeds (``feed_outages``): the SQL the analytics read.

An outage is a stretch in which a live feed could not see a box (see
:mod:`sitewatch.live._outages`); its rows are written by the live sessions.
"""


from __future__ import annotations

from datetime import datetime
from typing import Any

from sitewatch.store.db import Store
from sitewatch.store.where import Where


def _present(store: Store) -> bool:
    """A workspace opened read-only before ``feed_outages`` existed (schema 1) has none."""
    return bool(store.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'feed_outages'"))


def outages(store: Store, source: str | None = None, t_from: datetime | None = None,
            t_to: datetime | None = None, with_area: bool = False) -> list[dict[str, Any]]:
    """Outages of ``source`` (adsb/ais) overlapping ``[t_from, t_to)``, oldest first;
    ``with_area``: only those with a known box."""
    if not _present(store):
        return []
    w = Where("lat_min IS NOT NULL" if with_area else "").eq("source", source)
    w = w.window(t_from, t_to, "t_start_utc", "t_end_utc")
    sql = ("SELECT source, feed, origin, t_start_utc, t_end_utc, ongoing, lat_min, lat_max, lon_min, lon_max, "
           "failures, reason, file_id FROM feed_outages")
    return store.rows(f"{sql} WHERE {w.sql} ORDER BY t_start_utc, origin", w.params)


def count(store: Store, source: str | None = None) -> int:
    """How many outages are recorded (of ``source``)."""
    if not _present(store):
        return 0
    w = Where().eq("source", source)
    return int(store.scalar(f"SELECT count(*) FROM feed_outages WHERE {w.sql}", w.params) or 0)
