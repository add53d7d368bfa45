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

**Feed outages** (:mod:`sitewatch.analytics._outages`): a live AIS feed that failed (the
aisstream WebSocket dropped, an API rate-limited) records when it could not see its box. An
outage is a coverage outage, never a silence: a gap whose part outside the outages of the
boxes holding its ends is shorter than ``min_gap_h`` would not be a gap without the outage,
so it is **set apart** (no ``ais-gap`` event; counted and logged, :data:`LAST_SET_APART`);
in the other gaps the blinded time is left out of the intentional test (``gap_h`` minus
``details.outage_h`` must reach ``intentional_min_h``) and the details say how much of the
gap the feed could not see. Outages without a box (a receiver's TCP feed) are not used.

Confidence is 0.9 for intentional gaps and 0.5 for the others (the silence itself is
certain; its cause is what the number qualifies).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch import geo
from sitewatch.analytics._outages import Outages
from sitewatch.analytics.base import AnalysisContext, event_id, events_table, position_ref, register_analysis
from sitewatch.analytics.sea import _common as C
from sitewatch.analytics.sea import _scan
from sitewatch.kinds import EventKind
from sitewatch.store import positions_sea

log = logging.getLogger(__name__)

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
        cols = positions_sea.gap_rows(ctx.store, p["min_gap_h"] * 3600, p["dense_window_h"] * 3600, ctx.t_from,
                                    ctx.t_to).to_pydict()
    else:
        rows = _scan.gap_rows(ctx.store, p["min_gap_h"] * 3600, p["dense_window_h"] * 3600, ctx.t_from, ctx.t_to)
        cols = {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
    if not cols or not cols["id"]:
        return events_table([], ANALYSIS)
    cols, apart = split_outages(cols, Outages.load(ctx.store, "ais", ctx.t_from, ctx.t_to), p)
    LAST_SET_APART[:] = apart
    if apart:  # a feed that could not see is not a transponder switched off
        log.info("%s: %d AIS gaps fall in live-feed outages, not gaps (%.1f h of outage)", ANALYSIS, len(apart),
                 sum(a["outage_s"] for a in apart) / 3600.0)
    if not cols["id"]:
        return events_table([], ANALYSIS)
    from sitewatch.analytics.sea._shore import distance_to_shore_m

    shore0 = distance_to_shore_m(np.asarray(cols["lat0"]), np.asarray(cols["lon0"]))
    shore1 = distance_to_shore_m(np.asarray(cols["lat1"]), np.asarray(cols["lon1"]))
    info = C.vessel_labels(ctx, cols["id"])
    events = [_event(ctx, {k: v[i] for k, v in cols.items()}, float(shore0[i]), float(shore1[i]), p, info)
              for i in range(len(cols["id"]))]
    return events_table(events, ANALYSIS)


LAST_SET_APART: list[dict[str, Any]] = []
"""The gaps the last run set apart as feed outages: subject, times, outage seconds, reason."""


def split_outages(cols: dict[str, list[Any]], outages: Outages, p: dict[str, float]
                  ) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
    """(gap columns with ``outage_s`` added, the gaps set apart as feed outages)."""
    n = len(cols["id"])
    blind = [0.0] * n
    keep = [True] * n
    apart: list[dict[str, Any]] = []
    if len(outages):
        for i in range(n):
            t0, t1 = cols["t_start"][i].timestamp(), cols["t_end"][i].timestamp()
            spans = outages.blind([(cols["lat0"][i], cols["lon0"][i]), (cols["lat1"][i], cols["lon1"][i])], t0, t1)
            blind[i] = Outages.seconds(spans)
            if blind[i] and float(cols["gap_s"][i]) - blind[i] < p["min_gap_h"] * 3600.0:
                keep[i] = False
                apart.append({"subject": cols["id"][i], "t_start": cols["t_start"][i], "t_end": cols["t_end"][i],
                              "duration_s": float(cols["gap_s"][i]), "outage_s": blind[i],
                              "reason": f"feed outage: the live AIS feed could not see the area for "
                                        f"{blind[i] / 3600:.1f} h of the {float(cols['gap_s'][i]) / 3600:.1f} h"})
    out = {k: [v for v, k_ in zip(vs, keep, strict=True) if k_] for k, vs in cols.items()}
    out["outage_s"] = [b for b, k_ in zip(blind, keep, strict=True) if k_]
    return out, apart


def is_intentional(gap_h: float, shore0_nm: float, shore1_nm: float, n_before: int, p: dict[str, float]) -> bool:
    """GFW's likely-intentional-disabling test (see the module docstring)."""
    return (gap_h >= p["intentional_min_h"] and shore0_nm > p["offshore_nm"] and shore1_nm > p["offshore_nm"]
            and n_before >= p["dense_min_positions"])


def _event(ctx: AnalysisContext, r: dict[str, Any], shore0_m: float, shore1_m: float, p: dict[str, float],
           info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    gap_h = r["gap_s"] / 3600.0
    outage_h = float(r.get("outage_s") or 0.0) / 3600.0
    seen_h = gap_h - outage_h  # the part of the silence the feed could hear
    s0, s1 = shore0_m / geo.NM_M, shore1_m / geo.NM_M
    n_before = int(r["n_before"] or 0)
    intentional = is_intentional(seen_h, s0, s1, n_before, p)
    reasons = []
    if seen_h < p["intentional_min_h"]:
        reasons.append(f"shorter than {p['intentional_min_h']:g} h" + (
            f" outside the {outage_h:.1f} h the live feed could not see" if outage_h else ""))
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
    if outage_h:
        details["outage_h"] = round(outage_h, 3)
    cause = "likely intentional (GFW criteria)" if intentional else "likely coverage"
    if outage_h:
        cause += f"; the live feed could not see the area for {outage_h:.1f} h of it"
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
