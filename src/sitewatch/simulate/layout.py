"""Ground layout of the two simulated sites: zones and fixed features in local metres.

Contract: each site has an origin (the airport's or port's reference point from
``airportsdata`` / the World Port Index), a local east/north frame in metres, and named
rectangles (runway, apron, vehicle parks, piers, quays) given in that frame.
:func:`to_lonlat` converts local metres to WGS84 (equirectangular; errors below 1 m
over the 2 km the layouts span). :func:`site_objects` returns the
:class:`~sitewatch.sites.Site` values the demo adds with ``sitewatch site add/zone add``.

The layouts are schematic: the runway of Hmeimim (OSLK) runs 176°/356° through the
reference point as the real one does, but the apron and parks are placed by the
simulator, not surveyed. They are declared once here and used by the flight, ship and
scene generators so that tracks, berths and rendered objects agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shapely.geometry import Polygon

from sitewatch import sites as S

# Reference points (airportsdata OSLK; World Port Index 45003 Tartus).
HMEIMIM_LAT, HMEIMIM_LON = 35.4011, 35.9487
TARTUS_LAT, TARTUS_LON = 34.9, 35.866667
HMEIMIM_ELEV_FT = 157.0
RUNWAY_HDG_DEG = 356.0  # runway 35; the reciprocal (17) is 176°
RUNWAY_LEN_M = 2800.0
HMEIMIM_RADIUS_KM = 6.0
TARTUS_RADIUS_KM = 3.0

_M_PER_DEG_LAT = 111_320.0


def to_lonlat(lat0: float, lon0: float, x_m: float, y_m: float) -> tuple[float, float]:
    """(lon, lat) of the point ``x_m`` east and ``y_m`` north of (lat0, lon0)."""
    return (lon0 + x_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat0))), lat0 + y_m / _M_PER_DEG_LAT)


def to_xy(lat0: float, lon0: float, lon: float, lat: float) -> tuple[float, float]:
    """Inverse of :func:`to_lonlat`."""
    return ((lon - lon0) * _M_PER_DEG_LAT * math.cos(math.radians(lat0)), (lat - lat0) * _M_PER_DEG_LAT)


def rot(u: float, v: float, hdg_deg: float) -> tuple[float, float]:
    """Runway frame (``u`` across to the right of heading, ``v`` along it) → east/north metres."""
    h = math.radians(hdg_deg)
    return (u * math.cos(h) + v * math.sin(h), -u * math.sin(h) + v * math.cos(h))


@dataclass(frozen=True)
class Rect:
    """A rectangle in a site's runway/quay-aligned frame: centre, size, frame rotation."""

    name: str
    kind: str
    cu: float
    cv: float
    w_m: float  # across (u)
    l_m: float  # along (v)
    hdg_deg: float = 0.0

    def corners_xy(self) -> list[tuple[float, float]]:
        out = []
        for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            out.append(rot(self.cu + du * self.w_m / 2, self.cv + dv * self.l_m / 2, self.hdg_deg))
        return out

    def point(self, fu: float, fv: float) -> tuple[float, float]:
        """East/north metres of the point at fractions (fu, fv) ∈ [0, 1]² of the rectangle."""
        return rot(self.cu + (fu - 0.5) * self.w_m, self.cv + (fv - 0.5) * self.l_m, self.hdg_deg)


# --- Hmeimim (runway frame: v along runway 35, u to the east of it) -------------------
H_RUNWAY = Rect("runway", "runway", 0.0, 0.0, 45.0, RUNWAY_LEN_M, RUNWAY_HDG_DEG)
H_TAXIWAY = Rect("taxiway", "taxiway", -110.0, 0.0, 23.0, 2200.0, RUNWAY_HDG_DEG)
H_APRON = Rect("apron", "apron", -270.0, 10.0, 240.0, 480.0, RUNWAY_HDG_DEG)
H_PARK_N = Rect("park-north", "vehicle-park", -480.0, 160.0, 140.0, 200.0, RUNWAY_HDG_DEG)
H_PARK_S = Rect("park-south", "vehicle-park", -480.0, -160.0, 140.0, 200.0, RUNWAY_HDG_DEG)
HMEIMIM_ZONES = (H_RUNWAY, H_APRON, H_PARK_N, H_PARK_S)
# Heavy-aircraft stands on the apron: (u, v) in the runway frame, nose toward the taxiway.
H_STANDS = tuple((-280.0, v) for v in (-185.0, -90.0, 5.0, 100.0, 195.0))
# The rendered scene, in east/north metres: 600 m square, one detector slice at 0.6 m.
H_SCENE_XY = (-570.0, -310.0, 30.0, 290.0)  # x0, y0, x1, y1

# --- Tartus (x east, y north; sea to the west of x = 150) -----------------------------
T_COAST_X = 150.0
T_PIER_N = Rect("pier-north", "pier", 0.0, 170.0, 300.0, 30.0)
T_PIER_S = Rect("pier-south", "pier", 0.0, -110.0, 300.0, 30.0)
T_QUAY_N = Rect("quay-north", "quay", 0.0, 170.0, 310.0, 110.0)
T_QUAY_S = Rect("quay-south", "quay", 0.0, -110.0, 310.0, 110.0)
T_PARK = Rect("park", "vehicle-park", 240.0, 30.0, 115.0, 260.0)
T_BREAKWATER = Rect("breakwater", "breakwater", -235.0, 30.0, 22.0, 560.0)
TARTUS_ZONES = (T_QUAY_N, T_QUAY_S, T_PARK)
T_SCENE_XY = (-270.0, -270.0, 330.0, 330.0)


def berth(quay: Rect, side: int, along_frac: float) -> tuple[float, float]:
    """East/north metres of a berth beside a pier (``side`` +1 north, -1 south)."""
    return (quay.cu - quay.w_m / 2 + along_frac * quay.w_m, quay.cv + side * 27.0)


def _zone(lat0: float, lon0: float, r: Rect) -> S.Zone:
    ring = [to_lonlat(lat0, lon0, x, y) for x, y in r.corners_xy()]
    return S.Zone(r.name, Polygon([*ring, ring[0]]), r.kind)


def site_objects() -> tuple[S.Site, S.Site]:
    """The two sites with their zones, as the demo creates them through the CLI."""
    h = S.circle_site("hmeimim", "airbase", HMEIMIM_LAT, HMEIMIM_LON, HMEIMIM_RADIUS_KM,
                      source="airportsdata:OSLK", label="Hmeimim air base (OSLK)", icao="OSLK")
    for r in HMEIMIM_ZONES:
        h = h.with_zone(_zone(HMEIMIM_LAT, HMEIMIM_LON, r))
    t = S.circle_site("tartus", "port", TARTUS_LAT, TARTUS_LON, TARTUS_RADIUS_KM,
                      source="wpi:45003", label="Tartus naval port")
    for r in TARTUS_ZONES:
        t = t.with_zone(_zone(TARTUS_LAT, TARTUS_LON, r))
    return h, t


def runway_point(v_m: float, u_m: float = 0.0) -> tuple[float, float]:
    """(lat, lon) of a point ``v_m`` along runway 35 from the reference point."""
    x, y = rot(u_m, v_m, RUNWAY_HDG_DEG)
    lon, lat = to_lonlat(HMEIMIM_LAT, HMEIMIM_LON, x, y)
    return lat, lon
