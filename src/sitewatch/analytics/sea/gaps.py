"""``ais-gap`` events: a vessel silent on AIS for at least ``min_gap_h`` (6 h).

Each event runs from the last position before the silence (``t_start``) to the first
after it (``t_end``); details give both positions, the straight-line distance, the implied
speed (distance / gap time: a speed no ship can make means a spoofed or mis-merged
track, a low one a vessel that stayed put), the positions received in the
``dense_window_h`` before the gap, and the distance of each end from shore
(:mod:`sitewatch.analytics.sea._shore`, ±3 km).

``intentional`` follows Global Fishing Watch's criteria for likely intentional AIS
disabling (GFW technical documentation, "Gaps",
https://globalfishingwatch.github.io/GFW_technical_documentation/Gaps.html; Welch et al.
2022, Sci. Adv. 8, eabq2109), as we read them: the gap lasts at least
``intentional_min_h`` (12 h), **both** ends are more than ``offshore_nm`` (50 NM) from shore
(near shore, terrestrial reception is good and gaps are rare; far out, a vessel's silence
is a choice only if reception was good), and reception before the gap was dense: at least
``dense_min_positions`` (14) positions in the ``dense_window_h`` (12 h) before it. Every
other gap is ``cause: "likely-coverage"``. Without a satellite reception-quality map (GFW
also uses one) the density test stands in for it.

Caveat: the criteria assume satellite AIS. A terrestrial-only feed (MarineCadastre, a
coastal receiver) loses every vessel beyond ~40-60 NM, so its far-offshore gaps can meet
them through coverage alone; read ``intentional`` with the feed's reach in mind.

Confidence is 0.9 for intentional gaps and 0.5 for the others (the silence itself is
certain; its cause is what the number qualifies).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch import geo
from sitewatch.analytics.base import AnalysisContext, event_id, events_table, position_ref, register_analysis
from sitewatch.analytics.sea import _common as C
from sitewatch.analytics.sea import _scan
from sitewatch.kinds import EventKind
from sitewatch.store import sea_queries

ANALYSIS = "sea.gaps"
DEFAULTS = {
    "min_gap_h": 6.0, "intentional_min_h": 12.0, "offshore_nm": 50.0, "dense_window_h": 12.0,
    "dense_min_positions": 14,
}


@register_analysis(ANALYSIS, order=41, kinds=(EventKind("ais-gap", layer="gap", near_site=True),))
def ais_gaps(ctx: AnalysisContext) -> pa.Table:
    """AIS gaps of 6 h or more, flagged intentional (GFW criteria) or likely coverage."""
    p = C.params(ctx, "gap", DEFAULTS)
    if C.engine(ctx) == "sql":
        cols = sea_queries.gap_rows(ctx.store, p["min_gap_h"] * 3600, p["dense_window_h"] * 3600, ctx.t_from,
                                    ctx.t_to).to_pydict()
    else:
        rows = _scan.gap_rows(ctx.store, p["min_gap_h"] * 3600, p["dense_window_h"] * 3600, ctx.t_from, ctx.t_to)
        cols = {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
    if not cols or not cols["id"]:
        return events_table([], ANALYSIS)
    from sitewatch.analytics.sea._shore import distance_to_shore_m

    shore0 = distance_to_shore_m(np.asarray(cols["lat0"]), np.asarray(cols["lon0"]))
    shore1 = distance_to_shore_m(np.asarray(cols["lat1"]), np.asarray(cols["lon1"]))
    info = C.vessel_labels(ctx, cols["id"])
    events = [_event(ctx, {k: v[i] for k, v in cols.items()}, float(shore0[i]), float(shore1[i]), p, info)
              for i in range(len(cols["id"]))]
    return events_table(events, ANALYSIS)


def is_intentional(gap_h: float, shore0_nm: float, shore1_nm: float, n_before: int, p: dict[str, float]) -> bool:
    """GFW's likely-intentional-disabling test (see the module docstring)."""
    return (gap_h >= p["intentional_min_h"] and shore0_nm > p["offshore_nm"] and shore1_nm > p["offshore_nm"]
            and n_before >= p["dense_min_positions"])


def _event(ctx: AnalysisContext, r: dict[str, Any], shore0_m: float, shore1_m: float, p: dict[str, float],
           info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    gap_h = r["gap_s"] / 3600.0
    s0, s1 = shore0_m / geo.NM_M, shore1_m / geo.NM_M
    n_before = int(r["n_before"] or 0)
    intentional = is_intentional(gap_h, s0, s1, n_before, p)
    reasons = []
    if gap_h < p["intentional_min_h"]:
        reasons.append(f"shorter than {p['intentional_min_h']:g} h")
    if min(s0, s1) <= p["offshore_nm"]:
        reasons.append(f"an end within {p['offshore_nm']:g} NM of shore")
    if n_before < p["dense_min_positions"]:
        reasons.append(f"{n_before} positions in the {p['dense_window_h']:g} h before (< {p['dense_min_positions']:g})")
    site = C.site_at(ctx.sites.values(), r["lat0"], r["lon0"]) or C.site_at(ctx.sites.values(), r["lat1"], r["lon1"])
    details = {
        "vessel": info.get(r["id"]),
        "gap_h": round(gap_h, 3), "intentional": intentional,
        "cause": "likely-intentional" if intentional else "likely-coverage",
        "not_intentional_because": reasons,
        "before": {"t_utc": r["t_start"], "lat": r["lat0"], "lon": r["lon0"], "shore_nm": round(s0, 1),
                   "speed_kt": r["speed_before_kt"]},
        "after": {"t_utc": r["t_end"], "lat": r["lat1"], "lon": r["lon1"], "shore_nm": round(s1, 1)},
        "dist_km": round(r["dist_m"] / 1000.0, 3), "implied_kt": round(r["implied_kt"], 3),
        "positions_before": n_before,
        "params": dict(p),
    }
    cause = "likely intentional (GFW criteria)" if intentional else "likely coverage"
    return {
        "event_id": event_id("ais-gap", r["id"], r["t_start"], ANALYSIS),
        "kind": "ais-gap", "site": site, "t_start": r["t_start"], "t_end": r["t_end"],
        "subject": r["id"], "subject_kind": "vessel", "confidence": 0.9 if intentional else 0.5,
        "lat": r["lat0"], "lon": r["lon0"], "details": details,
        "evidence": [position_ref("ais", r["id"], r["t_start"], r["t_start"], role="last-before"),
                     position_ref("ais", r["id"], r["t_end"], r["t_end"], role="first-after")],
        "summary": f"{C.who(r['id'], info)} silent on AIS for {gap_h:.1f} h from {C.hhmm(r['t_start'])}; "
                   f"reappeared {r['dist_m'] / 1000:.1f} km away (implied {r['implied_kt']:.1f} kn); {cause}.",
    }
