"""Arrivals, departures, touch-and-goes, approaches and overflights at airfields and watched sites.

Strategy (:func:`detect`), per partition of whole aircraft, vectorised over reports:

1. **Ground stays** (:func:`sitewatch.analytics.air._tracks.stays`): runs of at least
   ``min_ground_s`` on the ground, from the on-ground flag where present (``use_flags``)
   or else from the speed derived from positions (below ``taxi_max_kt``).
2. A stay preceded, within ``profile_window_s``, by a **descent** of at least
   ``air_above_field_ft`` above the stay's altitude or by flying speed is an ``arrival``;
   a stay followed by a climb or flying speed is a ``departure``.
3. Away from stays, **low passes** near an airfield (below ``approach_max_agl_ft`` above
   the field, after a descent) become ``touch-and-go`` (back up after passing within
   ``touch_max_agl_ft``), ``approach`` (back up higher, or the track ends/gaps while still
   above ``air_above_field_ft``) or an *inferred* ``arrival`` (the track ends or goes dark
   right above the runway: ``details.ground_evidence = false``).
4. Passes within ``overflight_radius_m`` of a watched site that are none of the above are
   ``overflight``.

Runway headings are **inferred from the tracks** (no runway data is needed): the final
approach / initial climb courses of every event at an airfield, folded modulo 180° and
clustered in 10° bins; an event is *aligned* when its course is straight and within
``aligned_max_deg`` of a runway seen in at least two tracks (:func:`finalize`).
The field's altitude on the barometric scale is measured from the stays themselves (the
median altitude reported on the ground), which also absorbs the QNH offset of
pressure altitude; airfield elevation is the fallback.

Events carry ``details`` with every number used and confidence components, and
evidence references to the positions of the profile window.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch import geo
from sitewatch.analytics.air import _tracks as T
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams, from_settings
from sitewatch.analytics.base import AnalysisContext, events_table, position_ref, register_analysis

ANALYSIS = "air.site-events"
KINDS = ("arrival", "departure", "touch-and-go", "approach", "overflight")
INFERRED_MAX_DIST_M = 4000.0  # a track lost this close to an airfield, at runway height, was landing
_BIN_DEG = 10.0  # runway clustering bin; runway headings are named to 10 degrees


def _nanmax(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else float("nan")


def _nanmin(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.min()) if a.size else float("nan")


def _low(alts: np.ndarray, fallback: float) -> float:
    """Field altitude seen from the air side of a transition: the 5th percentile of the
    altitudes reported there (robust to single corrupt reports; on-ground altitudes are
    often corrupt in real feeds), else ``fallback`` (the stay's median altitude)."""
    a = np.sort(alts[np.isfinite(alts)])
    return float(a[int(0.05 * (a.size - 1))]) if a.size else fallback


def _high(alts: np.ndarray) -> float:
    a = np.sort(alts[np.isfinite(alts)])
    return float(a[int(0.95 * (a.size - 1) + 0.5)]) if a.size else float("nan")


def _course_stats(tr: T.Tracks, i0: int, i1: int) -> tuple[float, float]:
    """(course from row i0 to i1, circular spread of the segment bearings), degrees."""
    if i1 <= i0:
        return float("nan"), float("nan")
    la, lo = tr.lat[i0:i1 + 1], tr.lon[i0:i1 + 1]
    move = (la[1:] != la[:-1]) | (lo[1:] != lo[:-1])
    if not move.any():
        return float("nan"), float("nan")
    b = np.radians(geo.bearing_deg(la[:-1][move], lo[:-1][move], la[1:][move], lo[1:][move]))
    r = float(np.hypot(np.cos(b).mean(), np.sin(b).mean()))
    spread = float(np.degrees(np.sqrt(max(0.0, -2.0 * np.log(max(r, 1e-9))))))
    course = float(geo.bearing_deg(la[0], lo[0], la[-1], lo[-1]))
    return course, spread


def _iso(t_s: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(t_s), tz=UTC)


def detect(tr: T.Tracks, af: Airfields, p: AirParams, use_flags: bool = True) -> list[dict[str, Any]]:
    """Raw events of one partition (call :func:`finalize` on all of them)."""
    if len(tr) == 0:
        return []
    dspeed = T.derived_speed_kt(tr, p.speed_window_s)
    ground = T.ground_state(tr, p, use_flags, dspeed)
    st = T.stays(tr, ground, p.min_ground_s)
    pw = p.profile_window_s
    n = len(tr)
    wb_start = T.window_index(tr, -pw, st.start)
    wa_end = T.window_last(tr, pw, st.stop - 1)
    wa_next = T.window_last(tr, pw, np.minimum(st.stop, n - 1))
    out: list[dict[str, Any]] = []
    near_stay = np.zeros(len(tr), dtype=bool)
    # -- 1-2: stays → arrivals and departures ---------------------------------------------
    starts, stops = st.start.tolist(), st.stop.tolist()
    for j, (s0, s1) in enumerate(zip(starts, stops, strict=True)):
        a = int(tr.ac[s0])
        # the profile windows stop at the neighbouring stays: a taxi between two stays is no flight
        prev_stop = stops[j - 1] if j > 0 and int(tr.ac[starts[j - 1]]) == a else 0
        next_start = starts[j + 1] if j + 1 < len(starts) and int(tr.ac[starts[j + 1]]) == a else len(tr)
        lo_row, hi_row = int(tr.bounds[a]), int(tr.bounds[a + 1])
        near_stay[int(wb_start[j]):int(wa_end[j]) + 1] = True
        alts = tr.alt_ft[s0:s1]
        ref = float(np.nanmedian(alts)) if np.isfinite(alts).any() else float("nan")
        flags_ground = bool((tr.onground[s0:s1] == 1).mean() >= 0.5)
        if s0 > lo_row:  # arrival
            w0 = max(int(wb_start[j]), prev_stop)
            before = tr.alt_ft[w0:s0]
            r = _low(before, ref)
            descent = _high(before) - r
            vmax = _nanmax(dspeed[w0:s0])
            if _airborne_evidence(descent, dspeed[w0:s0], p):
                high = np.flatnonzero(before > r + p.air_above_field_ft) if np.isfinite(r) else np.zeros(0, int)
                last_air = w0 + int(high[-1]) if high.size else s0 - 1
                c, spread = _course_stats(tr, T.first_at(tr, last_air, -90.0), last_air)
                out.append(_event(tr, "arrival", s0, t_start=tr.t_s[last_air], t_end=tr.t_s[s0],
                                  ev_from=tr.t_s[w0], ev_to=tr.t_s[min(s0 + 5, s1 - 1)], details={
                                      "ground_evidence": True, "field_alt_ft": r, "descent_ft": descent,
                                      "max_speed_kt": vmax, "gap_before_s": float(tr.t_s[s0] - tr.t_s[s0 - 1]),
                                      "course_deg": c, "course_spread_deg": spread,
                                      "onground_flag": flags_ground, "ground_s": float(st_dur(tr, s0, s1))}))
        if s1 < hi_row:  # departure
            w1 = min(int(wa_next[j]), next_start - 1)
            after = tr.alt_ft[s1:w1 + 1]
            r = _low(after, ref)
            climb = _high(after) - r
            vmax = _nanmax(dspeed[s1:w1 + 1])
            if _airborne_evidence(climb, dspeed[s1:w1 + 1], p):
                high = np.flatnonzero(after > r + p.air_above_field_ft) if np.isfinite(r) else np.zeros(0, int)
                first_air = s1 + int(high[0]) if high.size else s1
                c, spread = _course_stats(tr, first_air, T.last_at(tr, first_air, 90.0))
                out.append(_event(tr, "departure", s1 - 1, t_start=tr.t_s[s1 - 1], t_end=tr.t_s[first_air],
                                  ev_from=tr.t_s[max(s1 - 5, s0)], ev_to=tr.t_s[w1], details={
                                      "ground_evidence": True, "field_alt_ft": r, "climb_ft": climb,
                                      "max_speed_kt": vmax, "gap_after_s": float(tr.t_s[s1] - tr.t_s[s1 - 1]),
                                      "course_deg": c, "course_spread_deg": spread,
                                      "onground_flag": flags_ground, "ground_s": float(st_dur(tr, s0, s1))}))
    # -- 3: low passes away from stays -----------------------------------------------------
    out += _low_passes(tr, af, p, near_stay | (ground == 1))
    # -- 4: overflights of watched sites ---------------------------------------------------
    out += _overflights(tr, af, p, near_stay | (ground == 1))
    _attach_airfields(out, af, p)
    return out


def _airborne_evidence(height_ft: float, speeds_kt: np.ndarray, p: AirParams) -> bool:
    """Was the aircraft flying next to a ground stay? A descent/climb of ``air_above_field_ft``
    when altitudes were reported; else at least 3 reports at flying speed (one fast report
    can be a position jump)."""
    if np.isfinite(height_ft):
        return bool(height_ft >= p.air_above_field_ft)
    return int((speeds_kt >= p.flying_min_kt).sum()) >= 3


def st_dur(tr: T.Tracks, s0: int, s1: int) -> float:
    return float(tr.t_s[s1 - 1] - tr.t_s[s0])


def _event(tr: T.Tracks, kind: str, row: int, t_start: float, t_end: float, ev_from: float, ev_to: float,
           details: dict[str, Any]) -> dict[str, Any]:
    a = int(tr.ac[row])
    return {"kind": kind, "subject": str(tr.ids[a]), "subject_kind": "aircraft", "t_start_s": float(t_start),
            "t_end_s": float(t_end), "lat": float(tr.lat[row]), "lon": float(tr.lon[row]),
            "alt_ft": None if not np.isfinite(tr.alt_ft[row]) else float(tr.alt_ft[row]),
            "ev": (float(ev_from), float(ev_to)), "details": details}


def _low_passes(tr: T.Tracks, af: Airfields, p: AirParams, excluded: np.ndarray) -> list[dict[str, Any]]:
    cand = np.flatnonzero(~excluded & np.isfinite(tr.alt_ft) & (tr.alt_ft < 6000.0))
    if cand.size == 0:
        return []
    near = af.nearest(tr.lat[cand], tr.lon[cand], p.approach_radius_m)
    has = near.idx >= 0
    cand, ai = cand[has], near.idx[has]
    field = af.elevation_ft[ai]
    agl = tr.alt_ft[cand] - field
    low = agl <= p.approach_max_agl_ft
    cand, ai, agl = cand[low], ai[low], agl[low]
    if cand.size == 0:
        return []
    brk = np.ones(cand.size, dtype=bool)
    brk[1:] = (tr.ac[cand[1:]] != tr.ac[cand[:-1]]) | (ai[1:] != ai[:-1]) | \
        (tr.t_s[cand[1:]] - tr.t_s[cand[:-1]] > 120.0)
    starts = np.flatnonzero(brk)
    stops = np.append(starts[1:], cand.size)
    out: list[dict[str, Any]] = []
    for g0, g1 in zip(starts.tolist(), stops.tolist(), strict=True):
        rows = cand[g0:g1]
        a = int(tr.ac[rows[0]])
        hi_row = int(tr.bounds[a + 1])
        k = int(np.argmin(agl[g0:g1]))
        i_min = int(rows[k])
        min_alt = float(tr.alt_ft[i_min])
        min_agl = float(agl[g0 + k])
        wb_i = T.first_at(tr, i_min, -p.profile_window_s)
        wa_i = T.last_at(tr, i_min, p.profile_window_s)
        before = tr.alt_ft[wb_i:i_min + 1]
        descent = _nanmax(before) - min_alt
        last = int(rows[-1])
        ends = last + 1 >= hi_row or tr.t_s[last + 1] - tr.t_s[last] > p.gap_low_s
        after = tr.alt_ft[i_min:wa_i + 1]
        climb = _nanmax(after) - min_alt
        dist_min = float(geo.haversine_m(tr.lat[i_min], tr.lon[i_min], af.lat[ai[g0 + k]], af.lon[ai[g0 + k]]))
        if not (np.isfinite(descent) and descent >= p.air_above_field_ft):
            continue  # level flight past an airfield is not an approach
        c, spread = _course_stats(tr, T.first_at(tr, i_min, -90.0), i_min)
        det: dict[str, Any] = {"min_agl_ft": min_agl, "min_alt_ft": min_alt, "descent_ft": descent,
                               "climb_after_ft": climb, "course_deg": c, "course_spread_deg": spread,
                               "field_alt_ft": float(af.elevation_ft[ai[g0 + k]]), "field_alt_source": "elevation",
                               "dist_at_lowest_m": dist_min, "ground_evidence": False}
        ev = (float(tr.t_s[wb_i]), float(tr.t_s[last]))
        if ends:
            gap_s = float(tr.t_s[last + 1] - tr.t_s[last]) if last + 1 < hi_row else None
            det["track_lost_after_s"] = gap_s
            kind = ("arrival" if min_agl <= p.air_above_field_ft and dist_min <= INFERRED_MAX_DIST_M
                    else "approach")
            det["inferred"] = kind == "arrival"
            out.append(_event(tr, kind, i_min, tr.t_s[rows[0]], tr.t_s[last], ev[0], ev[1], det))
        elif np.isfinite(climb) and climb >= p.air_above_field_ft:
            kind = "touch-and-go" if min_agl <= p.touch_max_agl_ft else "approach"
            out.append(_event(tr, kind, i_min, tr.t_s[rows[0]], tr.t_s[last], ev[0], float(tr.t_s[wa_i]),
                              det))
    return out


def _overflights(tr: T.Tracks, af: Airfields, p: AirParams, excluded: np.ndarray) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in af.sites:
        lat0, lat1 = s.lat - p.overflight_radius_m / 111_000.0, s.lat + p.overflight_radius_m / 111_000.0
        box = np.flatnonzero((tr.lat >= lat0) & (tr.lat <= lat1) & ~excluded)
        if box.size == 0:
            continue
        d = geo.haversine_m(s.lat, s.lon, tr.lat[box], tr.lon[box])
        rows = box[d <= p.overflight_radius_m]
        d = d[d <= p.overflight_radius_m]
        if rows.size == 0:
            continue
        brk = np.ones(rows.size, dtype=bool)
        brk[1:] = (tr.ac[rows[1:]] != tr.ac[rows[:-1]]) | (tr.t_s[rows[1:]] - tr.t_s[rows[:-1]] > 300.0)
        starts = np.flatnonzero(brk)
        stops = np.append(starts[1:], rows.size)
        for g0, g1 in zip(starts.tolist(), stops.tolist(), strict=True):
            k = g0 + int(np.argmin(d[g0:g1]))
            i = int(rows[k])
            out.append(_event(tr, "overflight", i, tr.t_s[rows[g0]], tr.t_s[rows[g1 - 1]], tr.t_s[rows[g0]],
                              tr.t_s[rows[g1 - 1]], {"site": s.name, "min_dist_m": float(d[k]),
                                                     "n_positions": g1 - g0, "ground_evidence": False}))
    return out


def _attach_airfields(events: list[dict[str, Any]], af: Airfields, p: AirParams) -> None:
    if not events:
        return
    lat = np.array([e["lat"] for e in events])
    lon = np.array([e["lon"] for e in events])
    near = af.nearest(lat, lon, max(p.airfield_radius_m, p.approach_radius_m))
    cands = af.candidates(lat, lon, p.candidates_radius_m)
    sites = af.site_of(lat, lon)
    for e, code, dist, n, site in zip(events, near.code, near.dist_m, cands, sites, strict=True):
        d = e["details"]
        limit = p.airfield_radius_m if e["kind"] in ("arrival", "departure", "touch-and-go") else p.approach_radius_m
        if code is not None and dist <= limit:
            d["airfield"], d["airfield_dist_m"] = code, float(dist)
            d["airfield_candidates"] = max(0, int(n) - 1)
        else:
            d["airfield"], d["airfield_dist_m"], d["airfield_candidates"] = None, None, int(n)
        if e["kind"] == "overflight":
            e["site"] = d["site"]
        else:
            e["site"] = site if site is not None else af.site_for_code(d["airfield"])


def finalize(events: list[dict[str, Any]], p: AirParams) -> list[dict[str, Any]]:
    """Infer runway headings per airfield from all events, judge alignment, set confidence
    and summary, and turn times into datetimes. Returns the events in time order."""
    by_field: dict[str, list[float]] = defaultdict(list)
    for e in events:
        d = e["details"]
        if d.get("airfield") and np.isfinite(d.get("course_deg", np.nan)) and \
                d.get("course_spread_deg", 99.0) <= p.aligned_max_deg:
            by_field[d["airfield"]].append(float(d["course_deg"]) % 180.0)
    runways: dict[str, list[float]] = {}
    for code, cs in by_field.items():
        arr = np.array(cs)
        bins = np.round(arr / _BIN_DEG).astype(int) % int(180 / _BIN_DEG)
        heads = []
        for b in np.unique(bins):
            near = np.abs(((arr - b * _BIN_DEG) + 90.0) % 180.0 - 90.0) <= _BIN_DEG
            if near.sum() >= 2:
                heads.append(float(np.round(np.median(arr[near]), 1)))
        runways[code] = sorted(set(heads))
    for e in events:
        d = e["details"]
        code = d.get("airfield")
        c = d.get("course_deg", float("nan"))
        rw = runways.get(code or "", [])
        if rw and np.isfinite(c):
            diffs = [abs(((c % 180.0) - h + 90.0) % 180.0 - 90.0) for h in rw]
            j = int(np.argmin(diffs))
            d["runway_heading_deg"], d["runway_offset_deg"] = rw[j], float(diffs[j])
        else:
            d["runway_heading_deg"], d["runway_offset_deg"] = None, None
        d["runway_source"] = "inferred-from-tracks"
        straight = d.get("course_spread_deg") is not None and np.isfinite(d.get("course_spread_deg", np.nan)) \
            and d["course_spread_deg"] <= p.aligned_max_deg
        d["aligned"] = bool(straight and d["runway_offset_deg"] is not None
                            and d["runway_offset_deg"] <= p.aligned_max_deg)
        e["confidence"] = _confidence(e, p)
        e["summary"] = _summary(e)
        e["t_start"], e["t_end"] = _iso(e["t_start_s"]), _iso(e["t_end_s"])
        e["evidence"] = [position_ref("adsb", e["subject"], _iso(e["ev"][0]), _iso(e["ev"][1]), role="profile")]
        for k in ("course_deg", "course_spread_deg", "descent_ft", "climb_ft", "field_alt_ft", "max_speed_kt"):
            if k in d and d[k] is not None and not np.isfinite(d[k]):
                d[k] = None
    events.sort(key=lambda e: (e["t_start_s"], e["subject"], e["kind"]))
    return events


def _confidence(e: dict[str, Any], p: AirParams) -> float:
    d, kind = e["details"], e["kind"]
    aligned = 1.0 if d.get("aligned") else 0.0
    at_field = 1.0 if d.get("airfield") else 0.0
    if kind == "overflight":
        return float(0.95 - 0.3 * d["min_dist_m"] / p.overflight_radius_m)
    if d.get("ground_evidence"):
        prof = d.get("descent_ft") if kind == "arrival" else d.get("climb_ft")
        profile_ok = 1.0 if prof is not None and np.isfinite(prof) and prof >= p.air_above_field_ft else 0.0
        flag_ok = 1.0 if d.get("onground_flag") else 0.0
        gap = d.get("gap_before_s") if kind == "arrival" else d.get("gap_after_s")
        gap_pen = 0.15 if gap is not None and gap > p.leg_gap_s else 0.0
        return float(min(0.99, 0.5 + 0.2 * profile_ok + 0.12 * aligned + 0.1 * at_field + 0.07 * flag_ok - gap_pen))
    if kind == "arrival":  # inferred from a track lost above the runway
        low = 1.0 if d["min_agl_ft"] <= p.touch_max_agl_ft else 0.0
        return float(0.35 + 0.15 * aligned + 0.1 * low + 0.05 * at_field)
    if kind == "touch-and-go":
        return float(0.5 + 0.2 * aligned + 0.15 * at_field)
    return float(0.4 + 0.2 * aligned + 0.15 * (1.0 if d["min_agl_ft"] <= 1000 else 0.0) + 0.1 * at_field)


def _summary(e: dict[str, Any]) -> str:
    d = e["details"]
    where = d.get("airfield") or e.get("site") or "no known airfield"
    if e["kind"] == "overflight":
        return f"{e['subject']} overflew {e['site']} at {d['min_dist_m'] / 1000:.1f} km"
    verb = {"arrival": "landed at", "departure": "took off from", "touch-and-go": "touched and went at",
            "approach": "approached"}[e["kind"]]
    extra = ""
    if e["kind"] == "arrival" and not d.get("ground_evidence"):
        extra = " (inferred: track lost above the runway)"
    if d.get("runway_heading_deg") is not None and d.get("aligned"):
        extra += f", aligned with runway {d['runway_heading_deg']:.0f}°/{(d['runway_heading_deg'] + 180) % 360:.0f}°"
    return f"{e['subject']} {verb} {where}{extra}"


@register_analysis(ANALYSIS, order=20, kinds=KINDS)
def site_events(ctx: AnalysisContext) -> pa.Table:
    """Arrivals, departures, touch-and-goes, approaches at any airfield; overflights of watched sites."""
    from sitewatch.analytics.air import _pipeline

    use_flags = from_settings(ctx.settings).use_onground_flags
    evs = [{k: v for k, v in e.items() if k not in ("t_start_s", "t_end_s", "ev", "alt_ft")}
           for e in _pipeline.for_context(ctx).site_events]
    for e in evs:
        e["details"] = {**e["details"], "engine": "duckdb+numpy", "use_onground_flags": use_flags}
    return events_table(evs, ANALYSIS)
