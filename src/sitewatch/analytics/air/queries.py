"""The analyst's air queries: "vanished here, reappeared there" (two boxes) and aircraft of interest.

Contract: :func:`parse_area` turns ``MIN_LON,MIN_LAT,MAX_LON,MAX_LAT`` or a site name into an
:class:`~sitewatch.store.positions_air.Area` (a site gives its circle, else its polygon's
bounding box). :func:`parse_duration` reads ``90s``, ``45m``, ``1h``, ``1h30m``, ``2d``.
:func:`two_box` and :func:`aircraft` return rows as dicts (times aware UTC), sorted by time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sitewatch.errors import InputError
from sitewatch.reference import types as ac_types
from sitewatch.sites import Site
from sitewatch.store import positions_air as AIR
from sitewatch.store.db import Store

_DUR = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?:in)?)?\s*"
                  r"(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(text: str, name: str = "duration") -> float:
    """Seconds in ``text`` such as ``8h``, ``1h30m``, ``45m``, ``90s``, ``2d``."""
    m = _DUR.match(text or "")
    if not text or not m or not any(m.groups()):
        raise InputError(f"{name} {text!r} is not a duration such as 1h, 1h30m, 45m, 90s or 2d")
    d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


def parse_area(text: str, sites: Mapping[str, Site], name: str = "area") -> AIR.Area:
    """A bounding box ``MIN_LON,MIN_LAT,MAX_LON,MAX_LAT`` or a site name."""
    if text in sites:
        s = sites[text]
        b = s.bbox()
        if s.radius_km is not None:
            return AIR.Area(s.name, b[0], b[1], b[2], b[3], (s.lat, s.lon), s.radius_km * 1000.0)
        return AIR.Area(s.name, *b)
    parts = text.split(",")
    if len(parts) != 4:
        known = ", ".join(sorted(sites)) or "none defined"
        raise InputError(f"{name} {text!r} is neither a site (known: {known}) nor MIN_LON,MIN_LAT,MAX_LON,MAX_LAT")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"{name} {text!r}: the four bounds must be numbers, e.g. 35.5,35.0,36.5,35.8") from None
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise InputError(f"{name} {text!r} must be MIN_LON,MIN_LAT,MAX_LON,MAX_LAT with min < max (lon first)")
    return AIR.Area(text, x0, y0, x1, y1)


def two_box(store: Store, a: AIR.Area, b: AIR.Area, min_gap_s: float, max_gap_s: float,
            t_from: datetime | None = None, t_to: datetime | None = None) -> list[dict[str, Any]]:
    """Aircraft seen in ``a`` then in ``b`` between ``min_gap_s`` and ``max_gap_s`` later."""
    if min_gap_s < 0 or max_gap_s < min_gap_s:
        raise InputError(f"--min-gap ({min_gap_s:.0f} s) must be >= 0 and <= --max-gap ({max_gap_s:.0f} s)")
    rel = AIR.store_relation("adsb").filtered(t_from, t_to)
    return AIR.two_box(store, rel, a, b, min_gap_s, max_gap_s).to_pylist()


def aircraft(store: Store, type_codes: Sequence[str] = (), military: bool = False, near: AIR.Area | None = None,
             t_from: datetime | None = None, t_to: datetime | None = None) -> list[dict[str, Any]]:
    """Aircraft seen (optionally near an area) filtered by ICAO type and military flag."""
    rel = AIR.store_relation("adsb").filtered(t_from, t_to)
    rows = AIR.aircraft_seen(store, rel, list(type_codes), military, near).to_pylist()
    for r in rows:
        t = ac_types.lookup(r.get("typecode"))
        r["role"] = t.role if t else None
    return rows
