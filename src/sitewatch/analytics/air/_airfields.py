"""Airfield index: nearest airfield, its distance and the number of other candidates.

Contract: :class:`Airfields` holds airfields from ``airportsdata`` (4-letter alphabetic
ICAO codes: heliports and private strips left out) plus every watched site of kind
``airbase`` that is not already one of them (a strip missing from the data), or every
watched site with ``every_site`` (dark-visit candidates: a helicopter can land at a
depot). Queries are vectorised with a k-d tree on unit vectors; a chord distance converts
exactly to a great-circle distance. :meth:`site_of` maps points to the
watched site whose area contains them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from sitewatch import geo
from sitewatch.sites import Site


def _xyz(lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.float64]:
    la, lo = np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lon, dtype=np.float64))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _chord(dist_m: float) -> float:
    return float(2.0 * np.sin(dist_m / geo.EARTH_RADIUS_M / 2.0))


@dataclass
class Nearest:
    code: npt.NDArray[np.object_]  # None where no airfield within the radius
    dist_m: npt.NDArray[np.float64]  # NaN where none
    idx: npt.NDArray[np.int64]  # -1 where none


class Airfields:
    """Airfields (code, lat, lon, elevation) with a spatial index."""

    def __init__(self, codes: Iterable[str], lat: npt.ArrayLike, lon: npt.ArrayLike,
                 elevation_ft: npt.ArrayLike, sites: Iterable[Site] = ()) -> None:
        self.codes = np.asarray(list(codes), dtype=object)
        self.lat = np.asarray(lat, dtype=np.float64)
        self.lon = np.asarray(lon, dtype=np.float64)
        self.elevation_ft = np.asarray(elevation_ft, dtype=np.float64)
        self.sites = [s for s in sites]
        self.tree = cKDTree(_xyz(self.lat, self.lon)) if self.codes.size else None

    @classmethod
    def default(cls, sites: Iterable[Site] = (), include_all: bool = True, every_site: bool = False) -> Airfields:
        """Every airportsdata airfield (``include_all``) plus the watched air bases (``every_site``:
        every watched site, e.g. as a candidate destination of a helicopter or a dark visit)."""
        from sitewatch.reference import airports

        sites = list(sites)
        codes: list[str] = []
        lat: list[float] = []
        lon: list[float] = []
        elev: list[float] = []
        if include_all:
            db = airports.all_airports()
            c, la, lo, big = airports.arrays()
            codes += [str(x) for x in c[big]]
            lat += la[big].tolist()
            lon += lo[big].tolist()
            elev += [db[str(x)].elevation_ft for x in c[big]]
        have = set(codes)
        for s in sites:
            if s.icao and s.icao in have:
                continue
            if every_site or s.kind == "airbase" or s.icao:
                elev_ft = 0.0
                if s.icao:
                    try:
                        elev_ft = airports.lookup(s.icao).elevation_ft
                    except LookupError:
                        elev_ft = 0.0
                codes.append(s.icao or s.name)
                lat.append(s.lat)
                lon.append(s.lon)
                elev.append(elev_ft)
        return cls(codes, lat, lon, elev, sites)

    def nearest(self, lat: npt.ArrayLike, lon: npt.ArrayLike, max_m: float) -> Nearest:
        la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        n = la.size
        code = np.full(n, None, dtype=object)
        dist = np.full(n, np.nan)
        idx = np.full(n, -1, dtype=np.int64)
        ok = np.isfinite(la) & np.isfinite(lo)
        if self.tree is None or not ok.any():
            return Nearest(code, dist, idx)
        d, i = self.tree.query(_xyz(la[ok], lo[ok]), k=1, distance_upper_bound=_chord(max_m))
        found = np.isfinite(d)
        sel = np.flatnonzero(ok)[found]
        ii = np.asarray(i[found], dtype=np.int64)
        idx[sel] = ii
        code[sel] = self.codes[ii]
        dist[sel] = geo.haversine_m(la[sel], lo[sel], self.lat[ii], self.lon[ii])
        return Nearest(code, dist, idx)

    def candidates(self, lat: npt.ArrayLike, lon: npt.ArrayLike, radius_m: float) -> npt.NDArray[np.int64]:
        """Number of airfields within ``radius_m`` of each point."""
        la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        out = np.zeros(la.size, dtype=np.int64)
        ok = np.isfinite(la) & np.isfinite(lo)
        if self.tree is None or not ok.any():
            return out
        out[ok] = self.tree.query_ball_point(_xyz(la[ok], lo[ok]), r=_chord(radius_m), return_length=True)
        return out

    def within(self, lat: float, lon: float, radius_m: float) -> npt.NDArray[np.int64]:
        """Indices of the airfields within ``radius_m`` of one point."""
        if self.tree is None:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(sorted(self.tree.query_ball_point(_xyz(lat, lon)[0], r=_chord(radius_m))),
                          dtype=np.int64)

    def site_of(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """Name of the watched site whose area contains each point (first match), else None."""
        la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        out = np.full(la.size, None, dtype=object)
        for s in self.sites:
            m = (out == None) & np.asarray(s.contains(la, lo), dtype=bool)  # noqa: E711 - elementwise
            out[m] = s.name
        return out

    def site_for_code(self, code: str | None) -> str | None:
        """The watched site standing for airfield ``code`` (same ICAO or same name)."""
        if code is None:
            return None
        for s in self.sites:
            if s.icao == code or s.name == code:
                return s.name
        return None
