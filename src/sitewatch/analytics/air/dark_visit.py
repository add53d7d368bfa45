"""Where did it go: the airfields and watched sites an aircraft could have visited during a dark gap.

Contract: :func:`rank` takes one gap (the state at loss and at reacquisition, see
:mod:`.gaps`) and candidate airfields, and returns the candidates, best first, each with:

* ``d_in_m`` / ``d_out_m``: great-circle legs loss → site → reacquisition;
* ``ground_s``: the gap minus both legs flown at the type's speed (cruise speed, or the
  mean of cruise and approach speeds for legs under 100 km) minus ``terminal_s`` of
  approach/departure manoeuvring per landing. A candidate is **feasible** only when
  ``ground_s >= visit_min_ground_s``;
* scores in [0, 1]: ``heading_in`` (course at loss vs bearing to the site; Gaussian,
  σ = 40°), ``vertical_in`` (descending at loss: 1, level: 0.5, climbing: 0.2),
  ``heading_out`` and ``vertical_out`` (same at reacquisition, climbing away),
  ``profile_in``/``profile_out`` (distance fits a 3° descent from the height at loss /
  a 400 ft/NM climb to the height at reacquisition),
  ``detour`` (exp(−extra distance / direct distance)) and ``ground`` (min(1, ground_s / 30 min));
* ``likelihood``: the product of the scores normalised over the candidates plus an
  "elsewhere / stayed airborne" alternative of fixed weight :data:`ELSEWHERE_WEIGHT`.

Speeds come from :mod:`sitewatch.reference.types` for the aircraft's ICAO type (from the
``aircraft`` table), else the defaults in :class:`~._params.AirParams`.
The ``air.dark-visits`` analysis writes one ``dark-visit`` event per gap whose best
candidate is feasible, with the ranked candidates in ``details`` and a plain summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch import geo
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams, from_settings
from sitewatch.analytics.air.gaps import _dur
from sitewatch.analytics.base import AnalysisContext, events_table, register_analysis
from sitewatch.kinds import EventKind
from sitewatch.reference import types as ac_types
from sitewatch.store import aircraft as AC
from sitewatch.store.events import of_analysis

ANALYSIS = "air.dark-visits"
ELSEWHERE_WEIGHT = 0.05  # prior weight of "none of these": landed at an unlisted strip or stayed airborne
HEADING_SIGMA_DEG = 40.0
MIN_LIKELIHOOD = 0.1  # below this the best candidate is no better than "elsewhere"
SHORT_LEG_M = 100_000.0  # legs shorter than this are flown partly at approach speed
DESCENT_FT_PER_NM = 318.0  # a 3° glide path
CLIMB_FT_PER_NM = 400.0  # typical transport climb gradient after take-off


@dataclass(frozen=True)
class GapEnds:
    """The state of one aircraft at loss (``*0``) and reacquisition (``*1``)."""

    t0_s: float
    t1_s: float
    lat0: float
    lon0: float
    alt0_ft: float
    course0_deg: float  # NaN when unknown
    alt_change0_ft: float  # over the last minutes before loss (negative: descending)
    lat1: float
    lon1: float
    alt1_ft: float
    course1_deg: float
    alt_change1_ft: float  # over the first minutes after reacquisition (positive: climbing)


def _vertical(change_ft: float, sign: float) -> float:
    if not np.isfinite(change_ft):
        return 0.5
    c = sign * change_ft
    return 1.0 if c >= 300.0 else (0.5 if c > -300.0 else 0.2)


def _heading(course: float, bearing: np.ndarray, dist_m: np.ndarray) -> np.ndarray:
    if not np.isfinite(course):
        return np.full(bearing.shape, 0.5)
    s = np.exp(-0.5 * (geo.angle_diff_deg(course, bearing) / HEADING_SIGMA_DEG) ** 2)
    return np.where(dist_m < 3000.0, 1.0, s)  # right above it: the course says nothing


def _profile_fit(height_ft: np.ndarray, moving: bool, dist_m: np.ndarray, ft_per_nm: float) -> np.ndarray:
    """How well the distance fits a descent (climb) from ``height_ft`` above the field at a
    typical gradient: Gaussian around the expected distance, σ = max(5 NM, half of it).
    1 when the aircraft was not descending (climbing): the height then says nothing."""
    if not moving:
        return np.ones(np.shape(dist_m))
    h = np.nan_to_num(np.maximum(height_ft, 0.0), nan=0.0)
    d_exp_nm = h / ft_per_nm
    sigma = np.maximum(5.0, 0.5 * d_exp_nm)
    return np.asarray(np.exp(-0.5 * ((dist_m / geo.NM_M - d_exp_nm) / sigma) ** 2), dtype=np.float64)


def rank(g: GapEnds, af: Airfields, p: AirParams, cruise_kt: float, approach_kt: float) -> list[dict[str, Any]]:
    """Candidates for one gap, best first (see the module docstring)."""
    gap_s = g.t1_s - g.t0_s
    v_cruise = cruise_kt * geo.KT_MS
    v_short = (cruise_kt + approach_kt) / 2.0 * geo.KT_MS
    reach = v_cruise * max(0.0, gap_s - 2 * p.terminal_s - p.visit_min_ground_s)
    mid_lat, mid_lon = (g.lat0 + g.lat1) / 2.0, (g.lon0 + g.lon1) / 2.0
    direct = float(geo.haversine_m(g.lat0, g.lon0, g.lat1, g.lon1))
    idx = af.within(mid_lat, mid_lon, reach / 2.0 + direct / 2.0 + 1.0)
    if idx.size == 0:
        return []
    la, lo = af.lat[idx], af.lon[idx]
    d_in = geo.haversine_m(g.lat0, g.lon0, la, lo)
    d_out = geo.haversine_m(la, lo, g.lat1, g.lon1)
    t_in = d_in / np.where(d_in < SHORT_LEG_M, v_short, v_cruise)
    t_out = d_out / np.where(d_out < SHORT_LEG_M, v_short, v_cruise)
    ground = gap_s - t_in - t_out - 2 * p.terminal_s
    ok = ground >= p.visit_min_ground_s
    if not ok.any():
        return []
    idx, la, lo, d_in, d_out, ground = idx[ok], la[ok], lo[ok], d_in[ok], d_out[ok], ground[ok]
    b_in = geo.bearing_deg(g.lat0, g.lon0, la, lo)
    b_out = geo.bearing_deg(la, lo, g.lat1, g.lon1)
    s_hin = _heading(g.course0_deg, b_in, d_in)
    s_hout = _heading(g.course1_deg, b_out, d_out)
    s_vin = _vertical(g.alt_change0_ft, -1.0)
    s_vout = _vertical(g.alt_change1_ft, 1.0)
    s_pin = _profile_fit(g.alt0_ft - af.elevation_ft[idx], g.alt_change0_ft <= -300.0, d_in, DESCENT_FT_PER_NM)
    s_pout = _profile_fit(g.alt1_ft - af.elevation_ft[idx], g.alt_change1_ft >= 300.0, d_out, CLIMB_FT_PER_NM)
    extra = d_in + d_out - direct
    s_detour = np.exp(-extra / max(direct, 50_000.0))
    s_ground = np.minimum(1.0, ground / 1800.0)
    score = (s_hin * s_hout * s_vin * s_vout * s_pin * s_pout * (0.5 + 0.5 * s_detour)
             * (0.5 + 0.5 * s_ground))
    like = score / (score.sum() + ELSEWHERE_WEIGHT)
    order = np.argsort(-like, kind="stable")[: p.visit_max_candidates]
    out = []
    for k in order.tolist():
        j = int(idx[k])
        out.append({
            "airfield": str(af.codes[j]), "site": af.site_for_code(str(af.codes[j])),
            "lat": float(af.lat[j]), "lon": float(af.lon[j]), "likelihood": float(like[k]),
            "d_in_m": float(d_in[k]), "d_out_m": float(d_out[k]), "ground_s": float(ground[k]),
            "bearing_in_deg": float(b_in[k]), "bearing_out_deg": float(b_out[k]),
            "scores": {"heading_in": float(s_hin[k]), "vertical_in": s_vin, "heading_out": float(s_hout[k]),
                       "vertical_out": s_vout, "profile_in": float(s_pin[k]),
                       "profile_out": float(s_pout[k]), "detour": float(s_detour[k]), "ground": float(s_ground[k])},
        })
    return out


def _words(like: float) -> str:
    return ("very likely" if like >= 0.8 else "likely" if like >= 0.55 else "possibly" if like >= 0.3
            else "may have")


def summary(name: str, g: GapEnds, best: dict[str, Any]) -> str:
    """E.g. "An-124 RA-82xxx very likely landed at hmeimim during the 6 h gap: lost 38 km WSW
    of the site descending through 9,800 ft, reacquired 52 km N climbing; estimated 4 h 50 min
    on the ground"."""
    where = best["site"] or best["airfield"]

    def side(lat: float, lon: float, alt: float, change: float, verb_dn: str, verb_up: str) -> str:
        d = float(geo.haversine_m(best["lat"], best["lon"], lat, lon))
        comp = geo.compass(float(geo.bearing_deg(best["lat"], best["lon"], lat, lon)))
        if np.isfinite(change) and change <= -300:
            motion = f"{verb_dn} through {alt:,.0f} ft"
        elif np.isfinite(change) and change >= 300:
            motion = f"{verb_up} through {alt:,.0f} ft"
        else:
            motion = f"at {alt:,.0f} ft" if np.isfinite(alt) else "at unknown altitude"
        return f"{d / 1000:.0f} km {comp} {'of the site ' if verb_dn == 'descending' else ''}{motion}"

    lost = side(g.lat0, g.lon0, g.alt0_ft, g.alt_change0_ft, "descending", "climbing")
    reacq = side(g.lat1, g.lon1, g.alt1_ft, g.alt_change1_ft, "descending ", "climbing")
    return (f"{name} {_words(best['likelihood'])} landed at {where} during the {_dur(g.t1_s - g.t0_s)} gap: "
            f"lost {lost}, reacquired {reacq}; estimated {_dur(best['ground_s'])} on the ground")


def gap_ends(e: dict[str, Any]) -> GapEnds:
    """:class:`GapEnds` from a ``dark-gap`` event dict (see :mod:`.gaps`)."""
    d = e["details"]
    lo, re = d["lost"], d["reacquired"]

    def f(x: Any) -> float:
        return float("nan") if x is None else float(x)

    # the course over the ground from positions first: reported tracks are often forward-filled
    c0 = d.get("course_lost_deg") if d.get("course_lost_deg") is not None else lo["track_deg"]
    c1 = d.get("course_reacq_deg") if d.get("course_reacq_deg") is not None else re["track_deg"]
    return GapEnds(e["t_start"].timestamp(), e["t_end"].timestamp(), lo["lat"], lo["lon"], f(lo["alt_ft"]),
                   f(c0), f(lo["alt_change_ft"]), re["lat"], re["lon"], f(re["alt_ft"]), f(c1),
                   f(re["alt_change_ft"]))


def visits(gap_events: list[dict[str, Any]], af: Airfields, p: AirParams,
           info: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``dark-visit`` events for the gaps long enough to hold a visit."""
    out = []
    min_gap = p.visit_min_ground_s + 2 * p.terminal_s
    for e in gap_events:
        if e["details"]["duration_s"] < min_gap:
            continue
        ident = e["subject"]
        meta = info.get(ident, {})
        t = ac_types.lookup(meta.get("typecode"))
        cruise, appr = (t.cruise_kt, t.approach_kt) if t else (p.default_cruise_kt, p.default_approach_kt)
        g = gap_ends(e)
        cands = rank(g, af, p, cruise, appr)
        if not cands or cands[0]["likelihood"] < MIN_LIKELIHOOD:
            continue  # nowhere listed fits: a carrier, an unlisted strip, or it stayed airborne
        best = cands[0]
        type_name = t.name.split(" / ")[0] if t else (meta.get("typecode") or "Aircraft")
        name = f"{type_name} {meta.get('registration') or ident}"
        out.append({
            "kind": "dark-visit", "subject": ident, "subject_kind": "aircraft", "site": best["site"],
            "t_start": e["t_start"], "t_end": e["t_end"], "lat": best["lat"], "lon": best["lon"],
            "confidence": best["likelihood"],
            "details": {"airfield": best["airfield"], "gap_event_id": e.get("event_id"),
                        "gap_s": g.t1_s - g.t0_s, "speeds_kt": {"cruise": cruise, "approach": appr},
                        "type": t.code if t else None, "type_source": "types-table" if t else "default",
                        "candidates": cands},
            "summary": summary(name, g, best),
            "evidence": [*e.get("evidence", []), *([{"table": "events", "event_id": e["event_id"]}]
                                                  if e.get("event_id") else [])],
        })
    return out


@register_analysis(ANALYSIS, order=40, kinds=(EventKind("dark-visit", layer="link", near_site=True),))
def dark_visits(ctx: AnalysisContext) -> pa.Table:
    """For each dark gap, the airfields and watched sites the aircraft could have visited, ranked."""
    import json

    p = from_settings(ctx.settings)
    rows = of_analysis(ctx.store, "air.dark-gaps", "dark-gap")
    gaps = []
    for r in rows:
        gaps.append({"event_id": r["event_id"], "subject": r["subject"],
                     "t_start": r["t_start"].astimezone(UTC), "t_end": r["t_end"].astimezone(UTC),
                     "details": json.loads(r["details"]), "evidence": json.loads(r["evidence"])})
    if ctx.t_from is not None:
        gaps = [g for g in gaps if g["t_end"] >= ctx.t_from]
    if ctx.t_to is not None:
        gaps = [g for g in gaps if g["t_start"] < ctx.t_to]
    if not gaps:
        return events_table([], ANALYSIS)
    af = Airfields.default(ctx.sites.values(), every_site=True)
    info = AC.aircraft_info(ctx.store, [g["subject"] for g in gaps])
    return events_table(visits(gaps, af, p, info), ANALYSIS)

