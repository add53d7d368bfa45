"""Compact Position Reporting (CPR) decoding on NumPy columns (DO-260B §A.1.7).

Inputs are raw 17-bit CPR integers. Every function takes arrays and returns
``(lat, lon)`` arrays with NaN where a row cannot be decoded (zone mismatch across a
pair, no reference), following the published algorithm step for step:

* :func:`airborne_pair` — global decoding of an even/odd pair; the newer frame's
  parity picks the latitude zone (the position is the newer frame's).
* :func:`airborne_local` — one frame against a reference within 180 NM.
* :func:`surface_pair` / :func:`surface_local` — the same with the 90° surface zones;
  the pair needs a reference (receiver or the aircraft's last fix) to pick the quadrant.
"""

from __future__ import annotations

import numpy as np

from sitewatch.modes._tables import nl

CPR_SCALE = 131072.0  # 2**17


def _pair(lat_e: np.ndarray, lon_e: np.ndarray, lat_o: np.ndarray, lon_o: np.ndarray,
          even_newer: np.ndarray, span: float, lat_ref: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    ye, xe = lat_e / CPR_SCALE, lon_e / CPR_SCALE
    yo, xo = lat_o / CPR_SCALE, lon_o / CPR_SCALE
    j = np.floor(59 * ye - 60 * yo + 0.5)
    late = (span / 60) * (np.mod(j, 60) + ye)
    lato = (span / 59) * (np.mod(j, 59) + yo)
    if lat_ref is None:  # airborne: fold the southern hemisphere
        late = np.where(late >= 270, late - 360, late)
        lato = np.where(lato >= 270, lato - 360, lato)
    else:  # surface: north or south solution, whichever is nearer the reference (newer frame)
        newer = np.where(even_newer, late, lato)
        south = np.abs(lat_ref - (newer - 90)) < np.abs(lat_ref - newer)
        late = np.where(south, late - 90, late)
        lato = np.where(south, lato - 90, lato)
    nle, nlo = nl(late), nl(lato)
    same = nle == nlo
    lat = np.where(even_newer, late, lato)
    nlv = np.where(even_newer, nle, nlo)
    ni = np.maximum(np.where(even_newer, nlv, nlv - 1), 1)
    m = np.floor(xe * (nlv - 1) - xo * nlv + 0.5)
    lon = (span / ni) * (np.mod(m, ni) + np.where(even_newer, xe, xo))
    ok = same
    if lat_ref is None:
        lon = np.where(lon > 180, lon - 360, lon)
        ok = ok & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    return np.where(ok, lat, np.nan), np.where(ok, lon, np.nan)


def airborne_pair(lat_e: np.ndarray, lon_e: np.ndarray, lat_o: np.ndarray, lon_o: np.ndarray,
                  even_newer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global airborne decoding of even/odd pairs (NaN where the zones disagree)."""
    return _pair(lat_e, lon_e, lat_o, lon_o, even_newer, 360.0, None)


def surface_pair(lat_e: np.ndarray, lon_e: np.ndarray, lat_o: np.ndarray, lon_o: np.ndarray,
                 even_newer: np.ndarray, lat_ref: np.ndarray, lon_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global surface decoding; the quadrant nearest ``(lat_ref, lon_ref)`` is chosen."""
    lat, lon_base = _pair(lat_e, lon_e, lat_o, lon_o, even_newer, 90.0, lat_ref)
    cands = ((lon_base[:, None] + np.array([0.0, 90.0, 180.0, 270.0])[None, :] + 180) % 360) - 180
    dist = np.abs((cands - lon_ref[:, None] + 180) % 360 - 180)
    pick = np.argmin(np.where(np.isnan(dist), np.inf, dist), axis=1)
    lon = cands[np.arange(cands.shape[0]), pick] if cands.shape[0] else lon_base
    return lat, np.where(np.isnan(lat), np.nan, lon)


def _local(fmt: np.ndarray, lat_c: np.ndarray, lon_c: np.ndarray, lat_ref: np.ndarray,
           lon_ref: np.ndarray, span: float) -> tuple[np.ndarray, np.ndarray]:
    y, x = lat_c / CPR_SCALE, lon_c / CPR_SCALE
    dlat = np.where(fmt == 1, span / 59, span / 60)
    j = np.floor(0.5 + lat_ref / dlat - y)
    lat = dlat * (j + y)
    ni = nl(lat) - fmt
    dlon = np.where(ni > 0, span / np.maximum(ni, 1), span)
    m = np.floor(0.5 + lon_ref / dlon - x)
    lon = dlon * (m + x)
    # near the antimeridian the nearest solution can fall just past ±180: wrap it
    lon = np.where(np.abs(lon) > 180.0, (lon + 180.0) % 360.0 - 180.0, lon)
    off_earth = np.abs(lat) > 90.0  # a reference near a pole can put the nearest zone past it
    return np.where(off_earth, np.nan, lat), np.where(off_earth, np.nan, lon)


def airborne_local(fmt: np.ndarray, lat_c: np.ndarray, lon_c: np.ndarray, lat_ref: np.ndarray,
                   lon_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Airborne decoding of single frames against references within 180 NM."""
    return _local(fmt, lat_c, lon_c, lat_ref, lon_ref, 360.0)


def surface_local(fmt: np.ndarray, lat_c: np.ndarray, lon_c: np.ndarray, lat_ref: np.ndarray,
                  lon_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Surface decoding of single frames against references within 45 NM."""
    return _local(fmt, lat_c, lon_c, lat_ref, lon_ref, 90.0)
