"""Airports from the ``airportsdata`` package (MIT; 28k airports with ICAO codes).

:func:`lookup` resolves an ICAO, IATA or (part of a) name; unknown or ambiguous names
raise with the closest matches listed. :func:`arrays` gives NumPy columns for fast
nearest-airfield searches.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from sitewatch.errors import AmbiguousError, NotFoundError


@dataclass(frozen=True)
class Airport:
    icao: str
    iata: str
    name: str
    city: str
    country: str
    lat: float
    lon: float
    elevation_ft: float


@lru_cache(maxsize=1)
def _all() -> dict[str, Airport]:
    import airportsdata

    raw: dict[str, Any] = airportsdata.load("ICAO")
    return {
        k: Airport(
            v["icao"], v.get("iata") or "", v["name"], v.get("city") or "", v["country"],
            float(v["lat"]), float(v["lon"]), float(v.get("elevation") or 0.0),
        )
        for k, v in raw.items()
    }


def all_airports() -> dict[str, Airport]:
    return _all()


def lookup(code: str) -> Airport:
    """The airport with ICAO/IATA ``code``, or whose name contains ``code`` uniquely."""
    db = _all()
    key = code.strip().upper()
    if key in db:
        return db[key]
    by_iata = [a for a in db.values() if a.iata == key]
    if len(by_iata) == 1:
        return by_iata[0]
    needle = code.strip().lower()
    by_name = [a for a in db.values() if needle and needle in a.name.lower()]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise AmbiguousError(
            "airport", code, [f"{a.icao} {a.name} ({a.country})" for a in by_name[:10]],
            hint="pass the ICAO code",
        )
    close = [c for c in db if len(key) >= 3 and c.startswith(key[:3])][:5]
    close += difflib.get_close_matches(key, list(db), n=5, cutoff=0.6)
    names = {a.name.lower(): a for a in db.values()}
    close += [names[n].icao for n in difflib.get_close_matches(needle, list(names), n=3, cutoff=0.6)]
    raise NotFoundError(
        "airport", code, [f"{c} {db[c].name}" for c in dict.fromkeys(close)],
        hint="use an ICAO code such as OSLK",
    )


@lru_cache(maxsize=1)
def arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(icao codes, lat, lon, is_big) arrays of every airport, for vectorised searches.

    ``is_big`` is false for heliports and tiny strips with no ICAO-style 4-letter code.
    """
    db = _all()
    codes = np.array(list(db), dtype=object)
    lat = np.array([a.lat for a in db.values()])
    lon = np.array([a.lon for a in db.values()])
    big = np.array([len(c) == 4 and c.isalpha() for c in codes])
    return codes, lat, lon, big
