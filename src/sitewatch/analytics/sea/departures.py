"""``vessel-departure`` events: a vessel that was at a site's quay leaves the watch area.

For every watched site of kind ``port`` (and any other site that has a quay zone), the
quay is the union of its zones whose kind or name contains ``quay`` (also ``berth``,
``pier``). When a port site has no quay zone, the watch area itself stands in for it,
and each event says so (``details.quay_basis = "watch-area"``).

A vessel's positions are read only around the site (inside the area's bounding box plus
the position before and after each stretch inside: :func:`positions_sea.area_crossing_rows`).
A *stay* is a run of consecutive positions inside the watch area; a stay that touched the
quay and is followed by a position outside the area is a departure. ``t_start`` is the last
position inside, ``t_end`` the first outside (the crossing happened in between); details
give the time at the quay, the exit position, its compass bearing from the site and the
speed over the exit segment. A stay counts only when the first and last positions at the
quay are at least ``min_quay_h`` (0.5 h) apart: a vessel passing through is not departing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from sitewatch import geo
from sitewatch.analytics.base import AnalysisContext, event_id, events_table, position_ref, register_analysis
from sitewatch.analytics.sea import _common as C
from sitewatch.sites import Site
from sitewatch.store import positions_sea

ANALYSIS = "sea.departures"
QUAY_WORDS = ("quay", "berth", "pier")
DEFAULTS = {"min_quay_h": 0.5}


def quay_geometry(site: Site) -> Any:
    """Union of the site's quay zones, or ``None`` when it has none."""
    zs = [z.geometry for z in site.zones if any(w in (z.kind or "").lower() or w in z.name.lower()
                                               for w in QUAY_WORDS)]
    return shapely.union_all(zs) if zs else None


@register_analysis(ANALYSIS, order=42, kinds=("vessel-departure",))
def departures(ctx: AnalysisContext) -> pa.Table:
    """Vessels that were at a port site's quay (or in its area) and left the watch area."""
    p = C.params(ctx, "departure", DEFAULTS)
    events: list[dict[str, Any]] = []
    for site in sorted(ctx.sites.values(), key=lambda s: s.name):
        quay = quay_geometry(site)
        if site.kind != "port" and quay is None:
            continue
        events += site_departures(ctx, site, quay, p["min_quay_h"])
    return events_table(events, ANALYSIS)


def site_departures(ctx: AnalysisContext, site: Site, quay: Any, min_quay_h: float) -> list[dict[str, Any]]:
    tbl = positions_sea.area_crossing_rows(ctx.store, site.bbox(), ctx.t_from, ctx.t_to)
    n = tbl.num_rows
    if n == 0:
        return []
    ids = np.asarray(tbl.column("id").to_pylist(), dtype=object)
    t = tbl.column("t_utc").to_pylist()
    lat = tbl.column("lat").to_numpy()
    lon = tbl.column("lon").to_numpy()
    inbox = np.asarray(tbl.column("inbox").to_pylist(), dtype=bool)
    in_area = inbox & np.asarray(site.contains(lat, lon), dtype=bool)
    in_quay = in_area & (np.asarray(shapely.intersects_xy(quay, lon, lat), dtype=bool) if quay is not None else True)
    same_prev = np.r_[False, ids[1:] == ids[:-1]]
    # a stay starts at an in-area row whose previous row (same vessel) is outside or absent
    start = in_area & ~(same_prev & np.r_[False, in_area[:-1]])
    info = C.vessel_labels(ctx, set(ids[in_quay].tolist()))
    out = []
    for k in np.flatnonzero(start):
        j = k
        while j + 1 < n and same_prev[j + 1] and in_area[j + 1]:
            j += 1
        if not in_quay[k:j + 1].any() or j + 1 >= n or not same_prev[j + 1]:
            continue  # never at the quay, or still inside when the track ends
        x = int(j + 1)  # first position outside the watch area
        q = np.flatnonzero(in_quay[k:j + 1]) + k
        if (t[int(q[-1])] - t[int(q[0])]).total_seconds() < min_quay_h * 3600:
            continue  # passed by: not long enough at the quay to have been alongside
        out.append(_event(site, quay is not None, str(ids[k]), t, lat, lon, int(k), int(j), x, q, bool(same_prev[k]),
                          info))
    return out


def _event(site: Site, has_quay: bool, mmsi: str, t: list[Any], lat: np.ndarray, lon: np.ndarray, k: int, j: int,
           x: int, q: np.ndarray, entry_seen: bool, info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    dt_s = (t[x] - t[j]).total_seconds()
    seg_m = float(geo.haversine_m(lat[j], lon[j], lat[x], lon[x]))
    brg = float(geo.bearing_deg(site.lat, site.lon, lat[x], lon[x]))
    details = {
        "vessel": info.get(mmsi),
        "quay_basis": "quay-zone" if has_quay else "watch-area",
        "quay_note": None if has_quay else "site has no quay zone; the watch area stands in for the quay",
        "first_in_area": t[k], "entry_observed": entry_seen,
        "first_at_quay": t[int(q[0])], "last_at_quay": t[int(q[-1])],
        "at_quay_h": C.hours((t[int(q[-1])] - t[int(q[0])]).total_seconds()),
        "last_inside": {"t_utc": t[j], "lat": float(lat[j]), "lon": float(lon[j])},
        "first_outside": {"t_utc": t[x], "lat": float(lat[x]), "lon": float(lon[x])},
        "bearing_deg": round(brg, 1), "heading": geo.compass(brg),
        "exit_speed_kt": round(seg_m / dt_s * 3600 / geo.NM_M, 2) if dt_s > 0 else None,
    }
    where = "quay" if has_quay else "watch area"
    return {
        "event_id": event_id("vessel-departure", mmsi, t[j], ANALYSIS, site.name),
        "kind": "vessel-departure", "site": site.name, "t_start": t[j], "t_end": t[x], "subject": mmsi,
        "subject_kind": "vessel", "confidence": 0.9 if has_quay else 0.7,
        "lat": float(lat[j]), "lon": float(lon[j]), "details": details,
        "evidence": [position_ref("ais", mmsi, t[int(q[-1])], t[x], role="departure")],
        "summary": f"{C.who(mmsi, info)} left {site.label or site.name} ({where} until {C.hhmm(t[int(q[-1])])}), "
                   f"crossing out of the watch area {geo.compass(brg)}-bound at {C.hhmm(t[x])}.",
    }
