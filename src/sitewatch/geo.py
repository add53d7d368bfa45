"""Small, vectorised geodesy on the WGS84 sphere approximation.

Distances use the haversine formula on a sphere of radius :data:`EARTH_RADIUS_M`
(the IUGG mean radius); errors stay below 0.5 % — enough for site radii, gap
reachability and port visits. All functions accept scalars or NumPy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from shapely.geometry import Polygon

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean Earth radius
NM_M = 1852.0
KT_MS = NM_M / 3600.0
FT_M = 0.3048

ArrayLike = float | npt.NDArray[np.float64] | Any


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any:
    """Great-circle distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def bearing_deg(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any:
    """Initial bearing from point 1 to point 2, degrees true in [0, 360)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    x = np.sin(dl) * np.cos(p2)
    y = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return (np.degrees(np.arctan2(x, y)) + 360.0) % 360.0


def destination(lat: ArrayLike, lon: ArrayLike, bearing: ArrayLike, dist_m: ArrayLike) -> tuple[Any, Any]:
    """Point reached from (lat, lon) going ``dist_m`` along initial ``bearing`` (degrees)."""
    p1 = np.radians(lat)
    l1 = np.radians(lon)
    b = np.radians(bearing)
    d = np.asarray(dist_m) / EARTH_RADIUS_M
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(b))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 540.0) % 360.0 - 180.0


def circle(lat: float, lon: float, radius_m: float, n: int = 64) -> Polygon:
    """A geodesic circle as a lon/lat polygon with ``n`` vertices."""
    bearings = np.linspace(0.0, 360.0, n, endpoint=False)
    la, lo = destination(lat, lon, bearings, radius_m)
    return Polygon(list(zip(np.atleast_1d(lo), np.atleast_1d(la), strict=True)))


def compass(bearing: float) -> str:
    """16-point compass name of a bearing (e.g. 'WSW')."""
    names = ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]
    return names[int((bearing % 360) / 22.5 + 0.5) % 16]


def angle_diff_deg(a: ArrayLike, b: ArrayLike) -> Any:
    """Smallest absolute difference between two headings, degrees in [0, 180]."""
    d = (np.asarray(a) - np.asarray(b)) % 360.0
    return np.minimum(d, 360.0 - d)
