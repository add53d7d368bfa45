"""Dark gaps: an aircraft unheard for longer than a threshold, coverage gap or transponder off.

Contract: :func:`find_gaps` returns the gaps (SQL window functions, see
:func:`sitewatch.store.positions_air.gaps`): consecutive fresh reports further apart than
``gap_low_s`` (below ``gap_split_alt_ft`` at loss) or ``gap_high_s`` (above), with the state
at loss and at reacquisition. :func:`classify` scores each gap against a **coverage map
built from the data itself** (:func:`sitewatch.store.positions_air.coverage_map`): for each
time bin wholly inside the gap, were *other* aircraft at the same or a lower altitude band
received in the 3×3 cells (about 80 km) around the point of loss (and of reacquisition)?
If others were tracked throughout, the receivers could hear that airspace and the target
most likely stopped transmitting: ``confidence`` is the estimated probability of a
transponder switched off, ``details.cause`` one of ``likely transponder-off``,
``coverage gap``, ``undetermined`` or ``landed (ground stay unseen)``: readsb's heuristic
(low and descending at loss, low and climbing at reacquisition, ``details.landing_suspected``)
explains the gap by a landing, and the probability of an in-flight switch-off drops.

:func:`seen_ground_stays` sets apart, before classification, the gaps that are **seen
ground stays**, not dark episodes: many receivers do not hear aircraft on the ground, so a
track often stops just after touchdown and resumes at take-off. A gap is a seen ground stay
when (1) it is bracketed by an arrival at an airfield and a departure from the same airfield
by the same aircraft, with no other movement in between, or (2) it is lost and reacquired
on the ground at the same airfield (at most :data:`GROUND_STAY_MAX_AGL_FT` above its
elevation, within :data:`GROUND_STAY_MAX_FIELD_M` of it and :data:`GROUND_STAY_MAX_MOVE_M`
apart). Such a gap yields no ``dark-gap`` event (hence no dark visit); it is returned with
its reason (counted by the pipeline and logged by the analysis), and the bracketing arrival
and departure carry it in ``details.ground_stay``.

**Feed outages** (:mod:`sitewatch.analytics._outages`): a live API that failed or was
rate-limited records when it could not see its box. An outage is a coverage outage, never a
dark gap: :func:`split_outages` sets apart, before classification, each gap whose part
outside the outages of the boxes holding its ends is no longer than the gap threshold (it
would not be a gap without the outage) — no ``dark-gap`` event, no dark visit, counted and
logged like the seen ground stays; in the other gaps :func:`classify` leaves the blinded
time bins out of the coverage test (they say nothing of the transponder) and records
``details.outage_s``.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch import geo
from sitewatch.analytics._outages import Outages
from sitewatch.analytics.air import _tracks as T
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams
from sitewatch.analytics.base import AnalysisContext, events_table, position_ref, register_analysis
from sitewatch.kinds import EventKind
from sitewatch.store import positions_air as AIR
from sitewatch.store.db import Store

log = logging.getLogger(__name__)

ANALYSIS = "air.dark-gaps"
MAX_BINS_PER_GAP = 240  # bins sampled evenly inside very long gaps: bounded work per gap
_TRANSPONDER_OFF = 0.6
_COVERAGE_GAP = 0.25
_ON_GROUND_FACTOR = 0.3  # a landing explains a gap as well as a switched-off transponder does


def find_gaps(store: Store, rel: AIR.Relation, p: AirParams) -> pa.Table:
    return AIR.gaps(store, rel, p.gap_low_s, p.gap_high_s, p.gap_split_alt_ft, p.stale_min_kt)


def _band(alt_ft: np.ndarray) -> np.ndarray:
    b = np.zeros(alt_ft.shape, dtype=np.int64)
    for edge in AIR.ALT_BANDS_FT:
        b += np.nan_to_num(alt_ft, nan=-1e9) >= edge
    return b


def _key(ci: np.ndarray, cj: np.ndarray, band: np.ndarray, tb: np.ndarray) -> np.ndarray:
    """One int64 per (cell, band, time bin); time bins since the epoch fit 26 bits for
    bins of 60 s or more until the 2100s."""
    return ((((ci.astype(np.int64) + 512) * 4096 + (cj.astype(np.int64) + 1024)) * 4 + band.astype(np.int64))
            << 26) + np.clip(tb.astype(np.int64), 0, (1 << 26) - 1)


class CoverageMap:
    """Membership test on (cell, band, time bin) keys with at least one aircraft received."""

    def __init__(self, keys: np.ndarray, cell_deg: float, bin_s: float) -> None:
        self.cell_deg, self.bin_s = cell_deg, bin_s
        self.keys = np.unique(np.asarray(keys, dtype=np.int64))

    @classmethod
    def from_table(cls, cov: pa.Table, cell_deg: float, bin_s: float) -> CoverageMap:
        """From :func:`sitewatch.store.positions_air.coverage_map` rows."""
        def col(c: str) -> np.ndarray:
            return np.asarray(cov.column(c).to_numpy(zero_copy_only=False), dtype=np.int64)

        return cls(_key(col("ci"), col("cj"), col("band"), col("tb")), cell_deg, bin_s)

    @staticmethod
    def keys_of(tr: T.Tracks, cell_deg: float, bin_s: float) -> np.ndarray:
        """The keys of one partition's (fresh) reports, for :meth:`__init__` (same binning as SQL)."""
        ci = np.floor(tr.lat / cell_deg)
        cj = np.floor(tr.lon / cell_deg)
        return np.unique(_key(ci, cj, _band(tr.alt_ft), np.floor(tr.t_s / bin_s)))

    def others(self, lat: float, lon: float, band: int, tbs: np.ndarray) -> np.ndarray:
        """Per time bin: were other aircraft at band <= ``band`` received within 3×3 cells?"""
        ci0, cj0 = int(np.floor(lat / self.cell_deg)), int(np.floor(lon / self.cell_deg))
        d = np.array([-1, 0, 1])
        ci, cj, bb, tt = np.meshgrid(ci0 + d, cj0 + d, np.arange(band + 1), tbs, indexing="ij")
        k = _key(ci.ravel(), cj.ravel(), bb.ravel(), tt.ravel())
        pos = np.clip(np.searchsorted(self.keys, k), 0, max(self.keys.size - 1, 0))
        hit = (self.keys[pos] == k) if self.keys.size else np.zeros(k.size, dtype=bool)
        return np.asarray(hit.reshape(ci.shape).any(axis=(0, 1, 2)), dtype=bool)


GAP_COLUMNS = ("id", "t0_s", "t1_s", "lat0", "lon0", "alt0_ft", "speed0_kt", "track0_deg", "vrate0_fpm",
               "alt0b_ft", "lat0b", "lon0b", "lat1", "lon1", "alt1_ft", "speed1_kt", "track1_deg",
               "vrate1_fpm", "alt1a_ft", "lat1a", "lon1a")


def gaps_from_tracks(tr: T.Tracks, p: AirParams, trend_s: float = 120.0) -> pa.Table:
    """The same rows as :func:`sitewatch.store.positions_air.gaps`, from an in-memory partition
    (the NumPy twin of the SQL, used when the partition is already loaded)."""
    n = len(tr)
    if n < 2:
        return pa.table({c: pa.array([], pa.string() if c == "id" else pa.float64()) for c in GAP_COLUMNS})
    same = tr.ac[1:] == tr.ac[:-1]
    dt = tr.t_s[1:] - tr.t_s[:-1]
    alt0 = np.nan_to_num(tr.alt_ft[:-1], nan=0.0)
    thr = np.where(alt0 >= p.gap_split_alt_ft, p.gap_high_s, p.gap_low_s)
    i1 = np.flatnonzero(same & (dt > thr)) + 1
    i0 = i1 - 1
    wb = T.window_index(tr, -trend_s, i0)
    wa = T.window_last(tr, trend_s, i1)
    alt0b = np.array([_first_finite(tr.alt_ft[a:b + 1]) for a, b in zip(wb, i0, strict=True)])
    alt1a = np.array([_first_finite(tr.alt_ft[a:b + 1][::-1]) for a, b in zip(i1, wa, strict=True)])
    cols = {
        "id": pa.array(tr.ids[tr.ac[i0]].tolist(), pa.string()), "t0_s": tr.t_s[i0], "t1_s": tr.t_s[i1],
        "lat0": tr.lat[i0], "lon0": tr.lon[i0], "alt0_ft": tr.alt_ft[i0], "speed0_kt": tr.speed_kt[i0],
        "track0_deg": tr.track_deg[i0], "vrate0_fpm": tr.vrate_fpm[i0], "alt0b_ft": alt0b,
        "lat0b": tr.lat[wb], "lon0b": tr.lon[wb], "lat1": tr.lat[i1], "lon1": tr.lon[i1],
        "alt1_ft": tr.alt_ft[i1], "speed1_kt": tr.speed_kt[i1], "track1_deg": tr.track_deg[i1],
        "vrate1_fpm": tr.vrate_fpm[i1], "alt1a_ft": alt1a, "lat1a": tr.lat[wa], "lon1a": tr.lon[wa],
    }
    return pa.table({k: (v if isinstance(v, pa.Array) else pa.array(np.asarray(v, dtype=np.float64),
                                                                     pa.float64(), from_pandas=True))
                     for k, v in cols.items()})


def _first_finite(a: np.ndarray) -> float:
    f = np.flatnonzero(np.isfinite(a))
    return float(a[f[0]]) if f.size else float("nan")


def _threshold_s(alt0_ft: float, p: AirParams) -> float:
    return p.gap_high_s if np.nan_to_num(alt0_ft) >= p.gap_split_alt_ft else p.gap_low_s


def _blind(outages: Outages | None, g: dict[str, np.ndarray], i: int) -> list[tuple[float, float]]:
    if outages is None or not len(outages):
        return []
    pts = [(float(g["lat0"][i]), float(g["lon0"][i])), (float(g["lat1"][i]), float(g["lon1"][i]))]
    return outages.blind(pts, float(g["t0_s"][i]), float(g["t1_s"][i]))


def split_outages(gaps: pa.Table, outages: Outages | None, p: AirParams) -> tuple[pa.Table, list[dict[str, Any]]]:
    """(the gaps to classify, the gaps set apart as feed outages: subject, times, outage seconds, reason)."""
    if outages is None or not len(outages) or gaps.num_rows == 0:
        return gaps, []
    g = {c: np.asarray(gaps.column(c).to_numpy(zero_copy_only=False), np.float64)
         for c in ("t0_s", "t1_s", "lat0", "lon0", "lat1", "lon1", "alt0_ft")}
    ids = [str(x) for x in gaps.column("id").to_pylist()]
    keep = np.ones(gaps.num_rows, bool)
    apart: list[dict[str, Any]] = []
    for i in range(gaps.num_rows):
        spans = _blind(outages, g, i)
        if not spans:
            continue
        dur = float(g["t1_s"][i] - g["t0_s"][i])
        blind = Outages.seconds(spans)
        if dur - blind > _threshold_s(float(g["alt0_ft"][i]), p):
            continue
        keep[i] = False
        apart.append({
            "subject": ids[i], "t_start": datetime.fromtimestamp(float(g["t0_s"][i]), UTC),
            "t_end": datetime.fromtimestamp(float(g["t1_s"][i]), UTC), "duration_s": dur, "outage_s": blind,
            "reason": f"feed outage: the live feed could not see the area for {_dur(blind)} of the {_dur(dur)}",
        })
    return (gaps if keep.all() else gaps.filter(pa.array(keep))), apart


def classify(gaps: pa.Table, cov: CoverageMap, p: AirParams, outages: Outages | None = None) -> list[dict[str, Any]]:
    """Dark-gap events (dicts for :func:`events_table`) from gap rows and the coverage map
    (time bins inside a recorded feed outage left out, see the module docstring)."""
    g = {c: gaps.column(c).to_numpy(zero_copy_only=False) for c in gaps.column_names}
    out: list[dict[str, Any]] = []
    for i in range(gaps.num_rows):
        def v(name: str, i: int = i) -> float:
            x = g[name][i]
            return float("nan") if x is None else float(x)

        t0, t1 = v("t0_s"), v("t1_s")
        alt0, alt1 = v("alt0_ft"), v("alt1_ft")
        tb_lo, tb_hi = int(np.ceil(t0 / p.coverage_bin_s)), int(np.floor(t1 / p.coverage_bin_s)) - 1
        if tb_hi < tb_lo:  # shorter than a bin: the bin around the middle
            tb_lo = tb_hi = int(np.floor((t0 + t1) / 2 / p.coverage_bin_s))
        tbs = np.arange(tb_lo, tb_hi + 1)
        if tbs.size > MAX_BINS_PER_GAP:
            tbs = np.unique(np.linspace(tb_lo, tb_hi, MAX_BINS_PER_GAP).astype(np.int64))
        spans = _blind(outages, g, i)
        if spans:
            seen = tbs[~Outages.bins_blind(spans, tbs, p.coverage_bin_s)]
            tbs = seen if seen.size else tbs[:0]
        band0 = int(_band(np.array([alt0]))[0])
        band1 = int(_band(np.array([alt1]))[0])
        f_loss = float(cov.others(v("lat0"), v("lon0"), band0, tbs).mean()) if tbs.size else 0.0
        f_reacq = float(cov.others(v("lat1"), v("lon1"), band1, tbs).mean()) if tbs.size else 0.0
        desc0 = v("alt0b_ft") - alt0
        climb1 = v("alt1a_ft") - alt1
        low = (np.nan_to_num(alt0, nan=0.0) < p.leg_low_agl_ft) and (np.nan_to_num(alt1, nan=0.0) < p.leg_low_agl_ft)
        landing = bool(low and (desc0 >= p.air_above_field_ft or alt0 < p.air_above_field_ft * 2)
                       and (climb1 >= p.air_above_field_ft or alt1 < p.air_above_field_ft * 2))
        heard = 0.7 * f_loss + 0.3 * f_reacq
        # lost low and descending, back low and climbing: it most likely sat on the ground, where
        # receivers that hear the approach often do not reach (or the crew switched off at the gate)
        conf = 0.1 + 0.85 * heard * (_ON_GROUND_FACTOR if landing else 1.0)
        cause = ("landed (ground stay unseen)" if landing
                 else "likely transponder-off" if conf >= _TRANSPONDER_OFF
                 else "coverage gap" if f_loss < _COVERAGE_GAP else "undetermined")
        dist = float(geo.haversine_m(v("lat0"), v("lon0"), v("lat1"), v("lon1")))
        dur = t1 - t0
        details = {
            "duration_s": dur, "threshold_s": p.gap_high_s if np.nan_to_num(alt0) >= p.gap_split_alt_ft else p.gap_low_s,
            "cause": cause, "coverage_loss": f_loss, "coverage_reacq": f_reacq, "bins": int(tbs.size),
            "lost": {"lat": v("lat0"), "lon": v("lon0"), "alt_ft": _fin(alt0), "speed_kt": _fin(v("speed0_kt")),
                     "track_deg": _fin(v("track0_deg")), "vrate_fpm": _fin(v("vrate0_fpm")),
                     "alt_change_ft": _fin(-desc0)},
            "reacquired": {"lat": v("lat1"), "lon": v("lon1"), "alt_ft": _fin(alt1), "speed_kt": _fin(v("speed1_kt")),
                           "track_deg": _fin(v("track1_deg")), "vrate_fpm": _fin(v("vrate1_fpm")),
                           "alt_change_ft": _fin(climb1)},
            "course_lost_deg": _fin(float(geo.bearing_deg(v("lat0b"), v("lon0b"), v("lat0"), v("lon0")))),
            "course_reacq_deg": _fin(float(geo.bearing_deg(v("lat1"), v("lon1"), v("lat1a"), v("lon1a")))),
            "distance_m": dist, "implied_speed_kt": dist / dur / geo.KT_MS if dur > 0 else None,
            "landing_suspected": landing,
        }
        if spans:
            details["outage_s"] = Outages.seconds(spans)
        ident = str(g["id"][i])
        ts0, ts1 = datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(t1, UTC)
        out.append({
            "kind": "dark-gap", "subject": ident, "subject_kind": "aircraft", "t_start": ts0, "t_end": ts1,
            "lat": v("lat0"), "lon": v("lon0"), "confidence": conf, "details": details,
            "summary": (f"{ident} unheard for {_dur(dur)} ({cause}): lost at "
                        f"{_alt(alt0)}, reacquired {dist / 1000:.0f} km away at {_alt(alt1)}"),
            "evidence": [position_ref("adsb", ident, ts0, ts0, role="last-before"),
                         position_ref("adsb", ident, ts1, ts1, role="first-after")],
        })
    return out


# -- seen ground stays --------------------------------------------------------------------------
GROUND_STAY_MAX_AGL_FT = 500.0
"""Lost and reacquired at most this far above the airfield's elevation: on the ground or
rolling (pressure altitude on the ground is off the elevation by up to a few hundred feet
with the QNH; the on-ground reports of the demo sit at 150 ft at OSLK, elevation 157 ft)."""
GROUND_STAY_MAX_MOVE_M = 3000.0
"""... and at most this far apart: within one aerodrome (a taxi from stand to runway)."""
GROUND_STAY_MAX_FIELD_M = 4000.0
"""... both within this distance of the airfield's reference point (runway thresholds of
large airports lie 2-4 km from it; the same radius as an arrival inferred from a track lost
above the runway, :data:`.site_events.INFERRED_MAX_DIST_M`)."""
MOVEMENT_KINDS = ("arrival", "departure", "touch-and-go", "approach")
"""Site events that move an aircraft to or from the ground (overflights do not)."""
_EPS_S = 1e-3


def _by_subject(site_events: list[dict[str, Any]]) -> dict[str, tuple[list[dict[str, Any]], np.ndarray,
                                                                         np.ndarray, np.ndarray, np.ndarray]]:
    """Per aircraft: its movement events sorted by start, their starts, the running maximum
    of their ends, and the order and values of the ends sorted."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in site_events:
        if e["kind"] in MOVEMENT_KINDS:
            groups.setdefault(str(e["subject"]), []).append(e)
    out = {}
    for ident, evs in groups.items():
        evs.sort(key=lambda e: (e["t_start_s"], e["t_end_s"]))
        ts = np.array([e["t_start_s"] for e in evs], dtype=np.float64)
        te = np.array([e["t_end_s"] for e in evs], dtype=np.float64)
        order = np.argsort(te, kind="stable")
        out[ident] = (evs, ts, np.maximum.accumulate(te), order, te[order])
    return out


def seen_ground_stays(gap_rows: pa.Table, site_events: list[dict[str, Any]], af: Airfields,
                      p: AirParams) -> list[dict[str, Any] | None]:
    """For each gap row (:func:`gaps_from_tracks`), the seen ground stay that explains it, else None.

    ``site_events`` are the raw events of the same partition (:func:`.site_events.detect`:
    ``t_start_s``/``t_end_s`` in seconds, ``details.airfield``). A gap is a ground stay when

    1. **bracketed**: the aircraft's last movement event (:data:`MOVEMENT_KINDS`) ending by
       the loss is an arrival at airfield X (touched down, or lost right above the runway),
       its first one starting at or after the reacquisition is a departure from X (heard on
       the ground before taking off), and no movement event overlaps the gap; or
    2. **on the ground at the airfield**: lost and reacquired within
       :data:`GROUND_STAY_MAX_FIELD_M` of the same airfield, at most
       :data:`GROUND_STAY_MAX_MOVE_M` apart, each end at most :data:`GROUND_STAY_MAX_AGL_FT`
       above the field's elevation (or, altitude unknown, at taxi speed).

    A gap lost on the ground and reacquired in the air (or the reverse) stays a dark gap:
    the aircraft may have flown during it. The arrival before and the departure after a stay
    at the same airfield get ``details.ground_stay`` (mutated in place): the airfield, the
    unheard stretches and their total.
    """
    n = gap_rows.num_rows
    out: list[dict[str, Any] | None] = [None] * n
    if n == 0:
        return out
    g = {c: np.asarray(gap_rows.column(c).to_numpy(zero_copy_only=False), dtype=np.float64)
         for c in gap_rows.column_names if c != "id"}
    ids = [str(x) for x in gap_rows.column("id").to_pylist()]
    # rule 2, vectorised: both ends low, close together, at the same airfield
    n0 = af.nearest(g["lat0"], g["lon0"], GROUND_STAY_MAX_FIELD_M)
    n1 = af.nearest(g["lat1"], g["lon1"], GROUND_STAY_MAX_FIELD_M)
    same = (n0.idx >= 0) & (n0.idx == n1.idx)
    elev = af.elevation_ft[np.maximum(n0.idx, 0)] if af.codes.size else np.zeros(n)

    def low(alt: np.ndarray, spd: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(alt), alt - elev <= GROUND_STAY_MAX_AGL_FT,
                            np.isfinite(spd) & (spd <= p.taxi_max_kt))

    move = np.asarray(geo.haversine_m(g["lat0"], g["lon0"], g["lat1"], g["lon1"]), dtype=np.float64)
    on_ground = same & low(g["alt0_ft"], g["speed0_kt"]) & low(g["alt1_ft"], g["speed1_kt"]) & \
        (move <= GROUND_STAY_MAX_MOVE_M)
    subj = _by_subject(site_events)
    for i in range(n):
        t0, t1 = float(g["t0_s"][i]), float(g["t1_s"][i])
        prev: dict[str, Any] | None = None
        nxt: dict[str, Any] | None = None
        overlap = False
        if ids[i] in subj:
            evs, ts, te_run, order, te_sorted = subj[ids[i]]
            j = int(np.searchsorted(te_sorted, t0 + _EPS_S, side="right")) - 1
            prev = evs[int(order[j])] if j >= 0 else None
            k = int(np.searchsorted(ts, t1 - _EPS_S, side="left"))
            nxt = evs[k] if k < len(evs) else None
            # a movement starting before the reacquisition and ending after the loss
            overlap = k > 0 and bool(te_run[k - 1] > t0 + _EPS_S)
        arr = prev if prev is not None and prev["kind"] == "arrival" and prev["details"].get("airfield") else None
        dep = nxt if nxt is not None and nxt["kind"] == "departure" and nxt["details"].get("airfield") else None
        rule, code = None, None
        if arr is not None and dep is not None and not overlap and \
                arr["details"]["airfield"] == dep["details"]["airfield"]:
            rule, code = "bracketed", str(arr["details"]["airfield"])
            reason = f"ground stay at {code} bracketed by arrival and departure"
        elif on_ground[i]:
            rule, code = "on-ground", str(af.codes[n0.idx[i]])
            reason = (f"ground stay at {code}: lost and reacquired on the ground there, "
                      f"{move[i]:,.0f} m apart")
        if rule is None or code is None:
            continue
        ts0, ts1 = datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(t1, UTC)
        site = af.site_for_code(code)
        if site is None:
            site = af.site_of(g["lat0"][i], g["lon0"][i])[0]
        stay = {
            "subject": ids[i], "airfield": code, "site": site, "t_start": ts0, "t_end": ts1,
            "duration_s": t1 - t0, "rule": rule, "reason": reason, "distance_m": float(move[i]),
            "lost": {"lat": float(g["lat0"][i]), "lon": float(g["lon0"][i]), "alt_ft": _fin(g["alt0_ft"][i])},
            "reacquired": {"lat": float(g["lat1"][i]), "lon": float(g["lon1"][i]),
                           "alt_ft": _fin(g["alt1_ft"][i])},
        }
        out[i] = stay
        for e in (arr, dep):  # the arrival before and the departure after, at this airfield
            if e is None or overlap or e["details"]["airfield"] != code:
                continue
            gs = e["details"].setdefault("ground_stay", {"airfield": code, "unheard": [], "unheard_s": 0.0})
            gs["unheard"].append({"t_from": ts0, "t_to": ts1, "duration_s": t1 - t0, "rule": rule})
            gs["unheard_s"] = float(gs["unheard_s"]) + (t1 - t0)
    return out


def _fin(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _alt(a: float) -> str:
    return f"{a:,.0f} ft" if np.isfinite(a) else "unknown altitude"


def _dur(s: float) -> str:
    m = round(s / 60.0)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def compute(store: Store, rel: AIR.Relation, p: AirParams) -> list[dict[str, Any]]:
    gaps = find_gaps(store, rel, p)
    if gaps.num_rows == 0:
        return []
    outages = Outages.load(store, "adsb")
    gaps, _apart = split_outages(gaps, outages, p)
    cov = CoverageMap.from_table(AIR.coverage_map(store, rel, p.coverage_cell_deg, p.coverage_bin_s, p.stale_min_kt),
                                 p.coverage_cell_deg, p.coverage_bin_s)
    return classify(gaps, cov, p, outages)


def attach_sites(events: list[dict[str, Any]], ctx: AnalysisContext) -> None:
    for e in events:
        for s in ctx.sites.values():
            if bool(s.contains(e["lat"], e["lon"])):
                e["site"] = s.name
                break


@register_analysis(ANALYSIS, order=30, kinds=(EventKind("dark-gap", layer="gap", near_site=True),))
def dark_gaps(ctx: AnalysisContext) -> pa.Table:
    """Gaps in aircraft tracks, told apart as coverage gaps or likely transponder-off."""
    from sitewatch.analytics.air import _pipeline

    res = _pipeline.for_context(ctx)
    if res.ground_stays:  # set apart, never silently: they are not dark, but say so
        reasons = Counter(f"ground stay at {s['airfield']} ({s['rule']})" for s in res.ground_stays)
        log.info("%s: %d gaps are seen ground stays, not dark gaps: %s", ANALYSIS, len(res.ground_stays),
                 "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items())))
        for s in res.ground_stays:
            log.debug("%s: %s %s to %s: %s", ANALYSIS, s["subject"], s["t_start"].isoformat(),
                      s["t_end"].isoformat(), s["reason"])
    if res.outage_gaps:  # a feed that could not see is not a transponder switched off
        log.info("%s: %d gaps fall in live-feed outages, not dark gaps (%.0f min of outage)", ANALYSIS,
                 len(res.outage_gaps), sum(o["outage_s"] for o in res.outage_gaps) / 60.0)
    evs = [dict(e) for e in res.gap_events]
    attach_sites(evs, ctx)
    return events_table(evs, ANALYSIS)
