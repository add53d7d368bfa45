"""``encounter`` events: two vessels side by side, slow, away from ports (e.g. transfers at sea).

Method (after Global Fishing Watch's encounters, GFW technical documentation,
"Encounters": within 500 m for at least 2 h, median speed below 2 kn, at least 10 km
from an anchorage), vectorised in SQL (:func:`positions_sea.close_pair_rows`):

1. each vessel's track becomes one mean position per ``bucket_min`` (10 min) bucket,
   kept when the bucket's speed is below ``slow_kt`` (2 kn);
2. buckets are joined on (bucket, 1.1 km × 0.03° grid cell) with the other side expanded
   to its 3×3 neighbour cells, so only nearby vessels in the same bucket are compared —
   never all pairs;
3. pairs closer than ``max_dist_m`` (500 m) form runs of buckets (a pause of at most
   ``max_pause_min`` = 30 min between close buckets keeps the run going); runs of at least
   ``min_h`` (2 h) are encounters;
4. runs whose mean position is within ``port_km`` (10 km) of a World Port Index port or a
   watched port site are dropped (tugs and moored neighbours, not encounters).

One event per vessel of the pair (``subject`` is that vessel, ``details.other`` the other),
so ``sitewatch events --subject MMSI`` finds it from either side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch.analytics.base import AnalysisContext, event_id, events_table, position_ref, register_analysis
from sitewatch.analytics.sea import _common as C
from sitewatch.kinds import EventKind
from sitewatch.store import positions_sea

ANALYSIS = "sea.encounters"
DEFAULTS = {"max_dist_m": 500.0, "min_h": 2.0, "slow_kt": 2.0, "bucket_min": 10.0, "max_pause_min": 30.0,
            "port_km": 10.0}


@register_analysis(ANALYSIS, order=44, kinds=(EventKind("encounter", near_site=True),))
def encounters(ctx: AnalysisContext) -> pa.Table:
    """Two vessels within 500 m for 2 h or more at under 2 kn, at least 10 km from any port."""
    p = C.params(ctx, "encounter", DEFAULTS)
    tbl = positions_sea.close_pair_rows(ctx.store, int(p["bucket_min"] * 60), p["max_dist_m"], p["slow_kt"],
                                      p["max_pause_min"] * 60, p["min_h"] * 3600, ctx.t_from, ctx.t_to)
    if tbl.num_rows == 0:
        return events_table([], ANALYSIS)
    c = tbl.to_pydict()
    port_m = C.min_port_distance_m(np.asarray(c["lat"]), np.asarray(c["lon"]), ctx.sites.values())
    keep = [i for i in range(tbl.num_rows) if port_m[i] >= p["port_km"] * 1000]
    info = C.vessel_labels(ctx, [c["id1"][i] for i in keep] + [c["id2"][i] for i in keep])
    events = []
    for i in keep:
        r = {k: v[i] for k, v in c.items()}
        events.append(_event(ctx, r, r["id1"], r["id2"], float(port_m[i]), p, info))
        events.append(_event(ctx, r, r["id2"], r["id1"], float(port_m[i]), p, info))
    return events_table(events, ANALYSIS)


def _event(ctx: AnalysisContext, r: dict[str, Any], me: str, other: str, port_m: float, p: dict[str, float],
           info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    dur_h = r["duration_s"] / 3600.0
    details = {
        "vessel": info.get(me),
        "other": other, "other_name": (info.get(other) or {}).get("name"), "duration_h": round(dur_h, 2),
        "close_buckets": r["n_buckets"], "min_dist_m": round(r["min_d_m"], 1), "mean_dist_m": round(r["mean_d_m"], 1),
        "nearest_port_km": round(port_m / 1000, 1), "params": dict(p),
    }
    return {
        "event_id": event_id("encounter", me, r["t_start"], ANALYSIS, other),
        "kind": "encounter", "site": C.site_at(ctx.sites.values(), r["lat"], r["lon"]),
        "t_start": r["t_start"], "t_end": r["t_end"], "subject": me, "subject_kind": "vessel",
        "confidence": 0.8 if r["n_buckets"] * p["bucket_min"] * 60 >= 0.75 * r["duration_s"] else 0.6,
        "lat": r["lat"], "lon": r["lon"], "details": details,
        "evidence": [position_ref("ais", me, r["t_start"], r["t_end"], role="self"),
                     position_ref("ais", other, r["t_start"], r["t_end"], role="other")],
        "summary": f"{C.who(me, info)} met {C.who(other, info)} for {dur_h:.1f} h "
                   f"(closest {r['min_d_m']:.0f} m), {port_m / 1000:.0f} km from the nearest port.",
    }
