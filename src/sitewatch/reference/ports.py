"""Ports from the bundled World Port Index (NGA, public domain; built by tools/build_ports.py).

:func:`lookup` accepts a port name (main or alternate), ``Name, Country``, a UN/LOCODE
or ``WPI:<number>``; ambiguous or unknown names raise with the closest matches.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from sitewatch.errors import AmbiguousError, NotFoundError


@dataclass(frozen=True)
class Port:
    wpi: str
    name: str
    alt_name: str
    unlocode: str
    country: str
    harbor_size: str
    harbor_type: str
    lat: float
    lon: float

    def label(self) -> str:
        return f"{self.name} ({self.country}, WPI:{self.wpi})"


@lru_cache(maxsize=1)
def all_ports() -> list[Port]:
    data = resources.files("sitewatch.reference").joinpath("ports.csv.gz").read_bytes()
    text = gzip.decompress(data).decode("utf-8")
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    out = []
    for r in csv.DictReader(io.StringIO("\n".join(lines))):
        out.append(
            Port(r["wpi"], r["name"], r["alt_name"], r["unlocode"].replace(" ", ""), r["country"],
                 r["harbor_size"], r["harbor_type"], float(r["lat"]), float(r["lon"]))
        )
    return out


def lookup(query: str) -> Port:
    """Resolve ``query`` to one port (see the module docstring)."""
    q = query.strip()
    ports = all_ports()
    if q.upper().startswith("WPI:"):
        hits = [p for p in ports if p.wpi == q[4:].strip()]
        if hits:
            return hits[0]
        raise NotFoundError("port", query, hint="check the World Port Index number")
    if len(q) == 5 and q.isalpha() and q.isupper():
        hits = [p for p in ports if p.unlocode == q]
        if len(hits) == 1:
            return hits[0]
    name, _, country = q.partition(",")
    name_l, country_l = name.strip().lower(), country.strip().lower()
    hits = [
        p for p in ports
        if name_l in (p.name.lower(), p.alt_name.lower())
        and (not country_l or p.country.lower() == country_l)
    ]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise AmbiguousError(
            "port", query, [p.label() for p in hits[:10]],
            hint='add the country ("Name, Country") or use WPI:<number>',
        )
    names = {p.name.lower(): p for p in ports} | {p.alt_name.lower(): p for p in ports if p.alt_name}
    close = difflib.get_close_matches(name_l, list(names), n=6, cutoff=0.6)
    raise NotFoundError("port", query, [names[c].label() for c in close])


@lru_cache(maxsize=1)
def arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, lat, lon) of every port, for vectorised nearest-port searches."""
    ports = all_ports()
    return (
        np.array([p.label() for p in ports], dtype=object),
        np.array([p.lat for p in ports]),
        np.array([p.lon for p in ports]),
    )
