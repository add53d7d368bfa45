"""``loitering`` events: a vessel holding slow far from shore (e.g. warships waiting offshore).

A loitering run is a stretch of consecutive slow segments of one vessel (speed, reported
or implied, below ``slow_kt`` = 2 kn; a silence longer than ``max_seg_h`` = 2 h ends the
run because nothing is known of the speed in it) that lasts at least ``min_h`` (4 h) and
whose mean speed (path length / duration) is below ``slow_kt``. The thresholds are Global
Fishing Watch's loitering ones (GFW technical documentation, "Loitering":
average speed < 2 kn, >= 20 NM from shore) with a 4 h minimum duration.

Distance from shore comes from :mod:`sitewatch.analytics.sea._shore` (``global_land_mask``,
±3 km). It is tested at the run's start, end and mean position; all three must be at least
``shore_nm`` (20 NM) out. A run of 2 kn for 4 h spans at most 8 NM, so three points bound
the run well; longer runs are reported with the minimum of the three.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch import geo
from sitewatch.analytics.base import AnalysisContext, event_id, events_table, position_ref, register_analysis
from sitewatch.analytics.sea import _common as C
from sitewatch.kinds import EventKind
from sitewatch.store import positions_sea

ANALYSIS = "sea.loitering"
DEFAULTS = {"slow_kt": 2.0, "min_h": 4.0, "shore_nm": 20.0, "max_seg_h": 2.0}


@register_analysis(ANALYSIS, order=43, kinds=(EventKind("loitering", near_site=True),))
def loitering(ctx: AnalysisContext) -> pa.Table:
    """Vessels averaging under 2 kn for 4 h or more at least 20 NM from shore."""
    p = C.params(ctx, "loitering", DEFAULTS)
    tbl = positions_sea.slow_run_rows(ctx.store, p["slow_kt"], p["min_h"] * 3600, p["max_seg_h"] * 3600,
                                    ctx.t_from, ctx.t_to)
    if tbl.num_rows == 0:
        return events_table([], ANALYSIS)
    from sitewatch.analytics.sea._shore import distance_to_shore_m

    c = tbl.to_pydict()
    la = np.column_stack([c["lat_start"], c["lat_end"], c["lat"]]).astype(np.float64)
    lo = np.column_stack([c["lon_start"], c["lon_end"], c["lon"]]).astype(np.float64)
    shore_nm = (distance_to_shore_m(la.ravel(), lo.ravel()).reshape(la.shape) / geo.NM_M).min(axis=1)
    keep = [i for i in range(tbl.num_rows) if shore_nm[i] >= p["shore_nm"] and c["mean_kt"][i] < p["slow_kt"]]
    info = C.vessel_labels(ctx, [c["id"][i] for i in keep])
    events = [_event(ctx, {k: v[i] for k, v in c.items()}, float(shore_nm[i]), p, info) for i in keep]
    return events_table(events, ANALYSIS)


def _event(ctx: AnalysisContext, r: dict[str, Any], shore_nm: float, p: dict[str, float],
           info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    dur_h = r["duration_s"] / 3600.0
    details = {
        "vessel": info.get(r["id"]),
        "duration_h": round(dur_h, 2), "mean_kt": round(r["mean_kt"], 3), "path_km": round(r["path_m"] / 1000, 3),
        "min_shore_nm": round(shore_nm, 1), "positions": r["n_pos"],
        "start": {"t_utc": r["t_start"], "lat": r["lat_start"], "lon": r["lon_start"]},
        "end": {"t_utc": r["t_end"], "lat": r["lat_end"], "lon": r["lon_end"]},
        "params": dict(p),
    }
    return {
        "event_id": event_id("loitering", r["id"], r["t_start"], ANALYSIS),
        "kind": "loitering", "site": C.site_at(ctx.sites.values(), r["lat"], r["lon"]),
        "t_start": r["t_start"], "t_end": r["t_end"], "subject": r["id"], "subject_kind": "vessel",
        # sparse tracks make the mean speed less certain
        "confidence": 0.8 if r["n_pos"] >= 2 * dur_h else 0.6,
        "lat": r["lat"], "lon": r["lon"], "details": details,
        "evidence": [position_ref("ais", r["id"], r["t_start"], r["t_end"], role="loitering")],
        "summary": f"{C.who(r['id'], info)} loitered {dur_h:.1f} h at {r['mean_kt']:.2f} kn mean, "
                   f"{shore_nm:.0f} NM from shore, from {C.hhmm(r['t_start'])}.",
    }
