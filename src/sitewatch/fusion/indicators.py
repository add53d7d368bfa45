"""Daily indicators per site, each against the site's own trailing baseline.

Contract: :func:`compute` turns a site's evidence rows (see :mod:`sitewatch.fusion.evidence`)
and the days each sensor covered the area into one :class:`Series` per indicator (and per
zone for vehicles): one :class:`Day` per UTC day with a value, or ``None`` and the status
``not observed`` (no sensor saw the site that day) or ``not resolvable`` (the imagery's GSD
was too coarse for the class). A day without observation is never a zero.

Indicators are registered with :func:`indicator` (a dict filled by a decorator). Two
aggregations: ``sum`` indicators count events (arrivals, departures, gaps) and are judged on
the total of the last ``short_days`` observed days; ``level`` indicators are counts of things
present (aircraft on the ground, vehicles, ships at the quay) and are judged on the latest
observed value.

Baseline: the observed values of the trailing ``window_days`` before each day (not the day
itself): median and MAD (robust to the very bursts we look for). Score = (x - median) / scale
with scale = max(1.4826 · MAD, sqrt(max(median, 1))): 1.4826 makes MAD a standard deviation
under normal noise; the square-root floor is the Poisson noise of a count, so a quiet series
(median 0, MAD 0) does not turn every single event into an infinite score. Fewer than
``min_baseline`` observed days (7 for daily feeds, 3 for imagery and analysts) → no score.

Change points: binary segmentation of the observed values (largest standardised difference of
segment medians and means, segments of at least 3 observations, threshold 3.5 standard errors).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from sitewatch.fusion.evidence import VEHICLE_CLASSES, near_bbox
from sitewatch.reference import types as actypes
from sitewatch.sites import Site
from sitewatch.store import fusion_queries as Q
from sitewatch.store.db import Store

WINDOW_DAYS = 90
SHORT_DAYS = 3
RECENT_DAYS = 14  # a burst or a level shift within two weeks still bears on the judgement
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution × 1.4826 = its standard deviation
CP_THRESHOLD = 3.5
CP_MIN_SEGMENT = 3
MIN_BASELINE = {"adsb": 7, "ais": 7, "imagery": 3, "analyst": 3}

Row = Mapping[str, Any]


@dataclass
class Day:
    """One day of one indicator."""

    day: date
    value: float | None
    status: str  # observed | not observed | not resolvable
    evidence: list[str] = field(default_factory=list)
    baseline_median: float | None = None
    baseline_mad: float | None = None
    baseline_n: int = 0
    score: float | None = None


@dataclass
class Series:
    """One indicator of one site: its days, where it shifted level, and its state at ``as_of``."""

    name: str
    label: str
    sensor: str
    aggregate: str
    days: list[Day]
    as_of: date
    value: float | None = None  # window total (sum) or latest observed value (level)
    value_day: date | None = None
    score: float | None = None
    baseline_median: float | None = None
    baseline_mean: float | None = None
    baseline_n: int = 0
    status: str = "not observed"
    sentence: str = ""
    evidence: list[str] = field(default_factory=list)
    change_points: list[dict[str, Any]] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)  # imagery: latest count by type/class
    peak_score: float | None = None  # highest score of the last RECENT_DAYS (windows, days, shifts)
    peak_day: date | None = None
    peak_basis: str = ""
    trough_score: float | None = None  # lowest score of the last RECENT_DAYS
    trough_day: date | None = None
    trough_basis: str = ""

    def as_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class IndicatorDef:
    name: str
    label: str
    sensor: str
    aggregate: str  # sum | level
    extract: Callable[[Sequence[Row], Site], dict[str, dict[date, tuple[float, list[str]]]]]
    doc: str


INDICATORS: dict[str, IndicatorDef] = {}


def indicator(name: str, label: str, sensor: str, aggregate: str
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an extractor: ``(evidence rows, site) -> {series name: {day: (value, ids)}}``.

    Only days the extractor saw something are returned; which days count as observed (and
    therefore zero when absent) is decided from sensor coverage by :func:`compute`.
    """
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        INDICATORS[name] = IndicatorDef(name, label, sensor, aggregate, fn, (fn.__doc__ or "").strip())
        return fn

    return deco


def _day(t: datetime) -> date:
    return t.astimezone(UTC).date()


def _events(rows: Sequence[Row], kinds: Iterable[str], pred: Callable[[Row], bool] | None = None,
            name: str = "") -> dict[str, dict[date, tuple[float, list[str]]]]:
    ks = set(kinds)
    out: dict[date, tuple[float, list[str]]] = {}
    for r in rows:
        if r["kind"] in ks and (pred is None or pred(r)):
            d = _day(r["t_start"])
            v, ids = out.get(d, (0.0, []))
            out[d] = (v + 1.0, [*ids, r["evidence_id"]])
    return {name: out}


@indicator("heavy_arrivals", "heavy-lift arrivals", "adsb", "sum")
def _heavy_arrivals(rows: Sequence[Row], site: Site) -> Any:
    """Arrivals of heavy military airlifters (An-124, Il-76, C-17 …)."""
    return _events(rows, ["air.arrival"], lambda r: bool(r["ref"].get("heavy")), "heavy_arrivals")


@indicator("heavy_departures", "heavy-lift departures", "adsb", "sum")
def _heavy_departures(rows: Sequence[Row], site: Site) -> Any:
    """Departures of heavy military airlifters."""
    return _events(rows, ["air.departure"], lambda r: bool(r["ref"].get("heavy")), "heavy_departures")


@indicator("dark_visits", "dark visits (inferred)", "adsb", "sum")
def _dark_visits(rows: Sequence[Row], site: Site) -> Any:
    """Aircraft that went dark near the site and reappeared: inferred unreported visits."""
    return _events(rows, ["air.dark-visit"], None, "dark_visits")


@indicator("military_movements", "military aircraft movements", "adsb", "sum")
def _military(rows: Sequence[Row], site: Site) -> Any:
    """Arrivals, departures, touch-and-goes and approaches of military aircraft."""
    kinds = ["air.arrival", "air.departure", "air.touch-and-go", "air.approach", "air.dark-visit"]
    return _events(rows, kinds, lambda r: bool(r["ref"].get("military")), "military_movements")


@indicator("adsb_gaps", "ADS-B gaps near the site", "adsb", "sum")
def _adsb_gaps(rows: Sequence[Row], site: Site) -> Any:
    """Transponder gaps (dark gaps) of aircraft near the site."""
    return _events(rows, ["air.dark-gap"], None, "adsb_gaps")


@indicator("vessel_departures", "vessel departures", "ais", "sum")
def _vessel_departures(rows: Sequence[Row], site: Site) -> Any:
    """Vessels leaving the port."""
    return _events(rows, ["sea.vessel-departure"], None, "vessel_departures")


@indicator("loitering", "vessels loitering offshore", "ais", "sum")
def _loitering(rows: Sequence[Row], site: Site) -> Any:
    """Vessels loitering offshore (waiting, holding in international waters)."""
    return _events(rows, ["sea.loitering"], None, "loitering")


@indicator("ais_gaps", "AIS gaps near the site", "ais", "sum")
def _ais_gaps(rows: Sequence[Row], site: Site) -> Any:
    """AIS transmission gaps of vessels near the site."""
    return _events(rows, ["sea.ais-gap"], None, "ais_gaps")


@indicator("ships_at_quay", "ships in port (AIS)", "ais", "level")
def _ships_in_port(rows: Sequence[Row], site: Site) -> Any:
    """Distinct vessels on a port visit on each day (a visit spans every day it overlaps)."""
    per_day: dict[date, dict[str, str]] = defaultdict(dict)
    last = max((_day(r["t_end"] or r["t_start"]) for r in rows), default=None)
    for r in rows:
        if r["kind"] != "sea.port-visit":
            continue
        d0 = _day(r["t_start"])
        d1 = _day(r["t_end"]) if r["t_end"] is not None else (last or d0)
        d = d0
        while d <= d1:
            per_day[d][str(r["subject"] or r["evidence_id"])] = r["evidence_id"]
            d += timedelta(days=1)
    return {"ships_at_quay": {d: (float(len(v)), sorted(set(v.values()))) for d, v in per_day.items()}}


def _imagery_level(rows: Sequence[Row], classes: Callable[[str], bool], by_zone: bool,
                   analyst: Callable[[Row], bool] | None, name: str
                   ) -> dict[str, dict[date, tuple[float, list[str]]]]:
    # per (series, scene): total count; a day's value is the largest scene total that day
    scene_tot: dict[tuple[str, str, date], tuple[float, list[str]]] = {}
    for r in rows:
        if r["kind"] != "imagery.count" or not classes(str(r["ref"].get("class"))):
            continue
        keys = [name]
        zone = r["ref"].get("zone")
        if by_zone and zone:
            keys.append(f"{name}@{zone}")
        for k in keys:
            key = (k, str(r["ref"].get("scene_id")), _day(r["t_start"]))
            v, ids = scene_tot.get(key, (0.0, []))
            scene_tot[key] = (v + float(r["value"] or 0.0), [*ids, r["evidence_id"]])
    out: dict[str, dict[date, tuple[float, list[str]]]] = defaultdict(dict)
    for (k, _scene, d), (v, ids) in scene_tot.items():
        if d not in out[k] or v > out[k][d][0]:
            out[k][d] = (v, ids)
    if analyst is not None:
        per: dict[date, tuple[float, list[str]]] = {}
        for r in rows:
            if r["kind"] == "analyst.observation" and r["value"] is not None and analyst(r):
                d = _day(r["t_start"])
                v, ids = per.get(d, (0.0, []))
                per[d] = (max(v, float(r["value"])), [*ids, r["evidence_id"]])
        for d, (v, ids) in per.items():
            cur = out[name].get(d)
            out[name][d] = (max(v, cur[0]), [*cur[1], *ids]) if cur else (v, ids)
    return dict(out)


def _is_aircraft_class(c: str | None) -> bool:
    if not c:
        return False
    return c.lower() in ("plane", "aircraft", "helicopter") or actypes.lookup(c.upper()) is not None


@indicator("aircraft_on_ground", "aircraft on the ground (imagery)", "imagery", "level")
def _aircraft_on_ground(rows: Sequence[Row], site: Site) -> Any:
    """Aircraft counted on the site's imagery (and by analysts reading imagery)."""
    return _imagery_level(rows, lambda c: c in ("plane", "helicopter"), False,
                          lambda r: _is_aircraft_class(r["ref"].get("class")), "aircraft_on_ground")


@indicator("vehicles", "vehicles (imagery)", "imagery", "level")
def _vehicles(rows: Sequence[Row], site: Site) -> Any:
    """Large and small vehicles on the site's imagery, in total and by zone."""
    return _imagery_level(rows, lambda c: c in VEHICLE_CLASSES, True,
                          lambda r: "vehicle" in str(r["ref"].get("class") or "").lower(), "vehicles")


@indicator("ships_imaged", "ships on imagery", "imagery", "level")
def _ships_imaged(rows: Sequence[Row], site: Site) -> Any:
    """Ships counted on the site's imagery."""
    return _imagery_level(rows, lambda c: c == "ship", False,
                          lambda r: str(r["ref"].get("class") or "").lower() in ("ship", "warship", "vessel"),
                          "ships_imaged")


# -- observed days -----------------------------------------------------------------------

def observed_days(rows: Sequence[Row], coverage: Sequence[Row]) -> dict[str, set[date]]:
    """Days each sensor saw the site: positions in the area, or evidence of that sensor."""
    out: dict[str, set[date]] = defaultdict(set)
    for c in coverage:
        out[str(c["source"])].add(c["day"])
    for r in rows:
        if r["kind"] in ("imagery.count", "imagery.limit", "imagery.scene"):
            continue  # imagery days are decided per class below
        out[str(r["sensor"])].add(_day(r["t_start"]))
    return out


COVERAGE_KINDS = ("air.coverage", "sea.coverage")


def _imagery_status(rows: Sequence[Row], classes: Callable[[str], bool]) -> tuple[set[date], set[date]]:
    """(days with a countable scene, days whose scenes could not resolve the classes)."""
    countable: set[date] = set()
    limited: set[date] = set()
    for r in rows:
        if r["kind"] == "imagery.count" and classes(str(r["ref"].get("class"))):
            if r["ref"].get("resolvable") is not False:
                countable.add(_day(r["t_start"]))
            else:
                limited.add(_day(r["t_start"]))
        elif r["kind"] == "imagery.limit" and classes(str(r["ref"].get("class"))):
            limited.add(_day(r["t_start"]))
    return countable, limited - countable


_IMAGERY_CLASSES: dict[str, Callable[[str], bool]] = {
    "aircraft_on_ground": lambda c: c in ("plane", "helicopter"),
    "vehicles": lambda c: c in VEHICLE_CLASSES,
    "ships_imaged": lambda c: c == "ship",
}


# -- statistics --------------------------------------------------------------------------

def robust_scale(median: float, mad: float) -> float:
    return max(MAD_TO_SIGMA * mad, math.sqrt(max(median, 1.0)))


def baseline(values: Sequence[float]) -> tuple[float, float]:
    """(median, MAD) of ``values``."""
    a = np.asarray(values, dtype=float)
    med = float(np.median(a))
    return med, float(np.median(np.abs(a - med)))


def change_points(values: Sequence[float], threshold: float = CP_THRESHOLD,
                  min_segment: int = CP_MIN_SEGMENT, max_points: int = 3) -> list[int]:
    """Indices where the level of ``values`` shifts (start of the new segment), ascending."""
    return [k for k, _ in change_points_t(values, threshold, min_segment, max_points)]


def change_points_t(values: Sequence[float], threshold: float = CP_THRESHOLD,
                    min_segment: int = CP_MIN_SEGMENT, max_points: int = 3) -> list[tuple[int, float]]:
    """(index, signed standardised shift) of each change point, ascending by index."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2 * min_segment:
        return []
    diffs = np.abs(np.diff(x))
    noise = MAD_TO_SIGMA * float(np.median(diffs)) / math.sqrt(2.0)
    sigma = max(noise, math.sqrt(max(float(np.median(x)), 1.0)) * 0.5)
    found: list[tuple[int, float]] = []

    def split(a: int, b: int) -> None:
        if len(found) >= max_points or b - a < 2 * min_segment:
            return
        seg = x[a:b]
        best_k, best_t, best_sign = -1, 0.0, 1.0
        for k in range(min_segment, len(seg) - min_segment + 1):
            nl, nr = k, len(seg) - k
            # both the medians and the means must shift: a single spike moves the mean, not
            # the median (it is a high score, not a change of level); the means place the split
            d_med = float(np.median(seg[k:])) - float(np.median(seg[:k]))
            d_mean = float(np.mean(seg[k:])) - float(np.mean(seg[:k]))
            t = min(abs(d_med), abs(d_mean)) / (sigma * math.sqrt(1 / nl + 1 / nr))
            if t > best_t:
                best_k, best_t, best_sign = k, t, (1.0 if d_mean >= 0 else -1.0)
        if best_k > 0 and best_t >= threshold:
            found.append((a + best_k, best_sign * best_t))
            split(a, a + best_k)
            split(a + best_k, b)

    split(0, n)
    return sorted(found)


# -- the facade --------------------------------------------------------------------------

def compute(store: Store, site: Site, as_of: datetime | None = None, t_from: datetime | None = None,
            window_days: int = WINDOW_DAYS, short_days: int = SHORT_DAYS,
            near_km: float | None = None, only: Iterable[str] | None = None) -> list[Series]:
    """Indicator series of ``site`` from its stored evidence, as of ``as_of`` (exclusive).

    ``as_of`` defaults to the end of the last day with evidence or coverage. Evidence must
    have been refreshed (:func:`sitewatch.fusion.evidence.refresh`).
    """
    from sitewatch.fusion.evidence import DEFAULT_NEAR_KM

    rows = Q.list_evidence(store, site.name, t_to=as_of)
    coverage = Q.coverage_days(store, near_bbox(site, near_km or DEFAULT_NEAR_KM))
    return compute_from_rows(rows, coverage, site, as_of, t_from, window_days, short_days, only)


def default_as_of(rows: Sequence[Row], coverage: Sequence[Row]) -> datetime | None:
    days = [_day(r["t_start"]) for r in rows] + [c["day"] for c in coverage]
    if not days:
        return None
    d = max(days) + timedelta(days=1)
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def compute_from_rows(rows: Sequence[Row], coverage: Sequence[Row], site: Site, as_of: datetime | None = None,
                      t_from: datetime | None = None, window_days: int = WINDOW_DAYS,
                      short_days: int = SHORT_DAYS, only: Iterable[str] | None = None) -> list[Series]:
    """:func:`compute` on already loaded evidence rows and coverage days."""
    if as_of is None:
        as_of = default_as_of(rows, coverage) or datetime.now(UTC)
    rows = [r for r in rows if r["t_start"] < as_of]
    last_day = _day(as_of - timedelta(microseconds=1))
    coverage = [c for c in coverage if c["day"] <= last_day]
    first_candidates = [_day(r["t_start"]) for r in rows] + [c["day"] for c in coverage]
    first_day = min(first_candidates, default=last_day)
    if t_from is not None:
        first_day = max(first_day, _day(t_from)) if _day(t_from) <= last_day else last_day
    first_day = min(first_day, last_day)
    observed = observed_days(rows, coverage)
    coverage_ids: dict[tuple[str, date], list[str]] = defaultdict(list)
    for r in rows:
        if r["kind"] in COVERAGE_KINDS:
            coverage_ids[(str(r["sensor"]), _day(r["t_start"]))].append(r["evidence_id"])
    wanted = set(only or INDICATORS)
    out: list[Series] = []
    for name, defn in INDICATORS.items():
        if name not in wanted:
            continue
        extracted = defn.extract(rows, site)
        if defn.sensor == "imagery":
            countable, limited = _imagery_status(rows, _IMAGERY_CLASSES[name])
            analyst_days = {d for v in extracted.values() for d in v} - countable
            obs, lim = countable | analyst_days, limited - analyst_days
        else:
            obs, lim = observed[defn.sensor], set()
        names = sorted(extracted) if extracted else [name]
        if name not in names:
            names.insert(0, name)
        for sname in names:
            vals = extracted.get(sname, {})
            label = defn.label if "@" not in sname else f"{defn.label.split(' (')[0]} in zone {sname.split('@')[1]}"
            out.append(_series(sname, label, defn, vals, obs, lim, first_day, last_day,
                               window_days, short_days, site, coverage_ids))
    by_id = {r["evidence_id"]: r for r in rows}
    for x in out:
        if x.sensor == "imagery" and x.evidence:
            _breakdown(x, by_id)
    return out


def _breakdown(s: Series, by_id: Mapping[str, Row]) -> None:
    """Latest imagery count by aircraft type (or class); cited rows with objects first."""
    ev = [by_id[i] for i in s.evidence if i in by_id]
    ev.sort(key=lambda r: -(r["value"] or 0.0))
    s.evidence = [r["evidence_id"] for r in ev]
    counts: dict[str, float] = defaultdict(float)
    for r in ev:
        if r["value"]:
            counts[str(r["ref"].get("type") or r["ref"].get("class") or "?")] += float(r["value"])
    s.breakdown = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    if len(s.breakdown) > 1 and s.status == "observed":
        s.sentence += " (by type: " + ", ".join(f"{_fmt(v)} {k}" for k, v in s.breakdown.items()) + ")"


def _series(name: str, label: str, defn: IndicatorDef, vals: Mapping[date, tuple[float, list[str]]],
            observed: set[date], limited: set[date], first_day: date, last_day: date,
            window_days: int, short_days: int, site: Site,
            coverage_ids: Mapping[tuple[str, date], list[str]] | None = None) -> Series:
    # the series starts early enough to give the first reported day a full baseline window
    start = min(first_day, *(d for d in vals), *(d for d in observed if d <= last_day)) if (
        vals or observed) else first_day
    days: list[Day] = []
    d = start
    while d <= last_day:
        if d in vals:
            days.append(Day(d, vals[d][0], "observed", list(vals[d][1])))
        elif d in observed:
            days.append(Day(d, 0.0, "observed"))
        elif d in limited:
            days.append(Day(d, None, "not resolvable"))
        else:
            days.append(Day(d, None, "not observed"))
        d += timedelta(days=1)
    min_n = MIN_BASELINE.get(defn.sensor, 7)
    obs_idx = [i for i, x in enumerate(days) if x.value is not None]
    for i in obs_idx:
        day = days[i]
        lo = day.day - timedelta(days=window_days)
        hist = [x.value for x in days[:i] if x.value is not None and x.day >= lo]
        if len(hist) >= min_n:
            med, mad = baseline([float(h) for h in hist if h is not None])
            day.baseline_median, day.baseline_mad, day.baseline_n = med, mad, len(hist)
            day.score = (float(day.value or 0.0) - med) / robust_scale(med, mad)
        else:
            day.baseline_n = len(hist)
    s = Series(name, label, defn.sensor, defn.aggregate, [x for x in days if x.day >= first_day], last_day)
    cps = change_points_t([float(days[i].value or 0.0) for i in obs_idx])
    for k, t in cps:
        before = [float(days[i].value or 0.0) for i in obs_idx[:k]]
        after = [float(days[i].value or 0.0) for i in obs_idx[k:]]
        s.change_points.append({"day": days[obs_idx[k]].day, "before_median": float(np.median(before)),
                                "after_median": float(np.median(after)), "t": round(t, 2)})
    if limited:
        s.limits.append(f"{label}: not countable on the imagery of "
                        f"{', '.join(str(x) for x in sorted(limited)[-3:])} (GSD too coarse)")
    _judge(s, days, window_days, short_days, min_n, coverage_ids)
    _recent_extremes(s, days, window_days, short_days, min_n)
    return s


def _sum_window(observed: Sequence[Day], end: int, window_days: int, short_days: int, min_n: int
                ) -> tuple[float, float | None, float | None, float | None, int, list[Day]]:
    """(total, score, median, mean, baseline days, window) of the ``short_days`` observed days
    ending at index ``end`` of ``observed`` against the trailing baseline before them."""
    window = list(observed[max(0, end - short_days + 1):end + 1])
    total = float(sum(x.value or 0.0 for x in window))
    first_w = window[0].day
    hist = [float(x.value or 0.0) for x in observed[:max(0, end - short_days + 1)]
            if x.day >= first_w - timedelta(days=window_days)]
    if len(hist) < min_n:
        return total, None, None, None, len(hist), window
    med, mad = baseline(hist)
    k = len(window)
    return total, (total - k * med) / (robust_scale(med, mad) * math.sqrt(k)), med, float(np.mean(hist)), \
        len(hist), window


def _recent_extremes(s: Series, days: list[Day], window_days: int, short_days: int, min_n: int) -> None:
    """Highest and lowest score of the last :data:`RECENT_DAYS`: a burst last week, or a level
    shift (its change-point statistic), still bears on the judgement after the score relaxes."""
    lo_day = s.as_of - timedelta(days=RECENT_DAYS - 1)
    cands: list[tuple[float, date, str]] = []
    if s.aggregate == "sum":
        observed = [x for x in days if x.value is not None]
        for i, x in enumerate(observed):
            if x.day >= lo_day:
                _, sc, _, _, _, _ = _sum_window(observed, i, window_days, short_days, min_n)
                if sc is not None:
                    cands.append((sc, x.day, f"{short_days}-day total"))
    else:
        cands += [(float(x.score), x.day, "value") for x in days if x.day >= lo_day and x.score is not None]
    cands += [(float(cp["t"]), cp["day"], "level shift") for cp in s.change_points if cp["day"] >= lo_day]
    if s.score is not None and s.value_day is not None:
        cands.append((float(s.score), s.value_day, "latest"))
    if not cands:
        return
    hi, lo = max(cands), min(cands)
    s.peak_score, s.peak_day, s.peak_basis = round(hi[0], 2), hi[1], hi[2]
    s.trough_score, s.trough_day, s.trough_basis = round(lo[0], 2), lo[1], lo[2]
    cur = s.score if s.score is not None else 0.0
    if hi[0] >= cur + 1.0 and hi[0] >= 2.0:
        s.sentence += f"; peak {hi[0]:+.1f} on {hi[1]} ({hi[2]}, within {RECENT_DAYS} days)"
    if lo[0] <= cur - 1.0 and lo[0] <= -2.0:
        s.sentence += f"; low {lo[0]:+.1f} on {lo[1]} ({lo[2]}, within {RECENT_DAYS} days)"


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def _judge(s: Series, days: list[Day], window_days: int, short_days: int, min_n: int,
           _coverage_ids: Mapping[tuple[str, date], list[str]] | None = None) -> None:
    _coverage_ids = _coverage_ids or {}
    observed = [x for x in days if x.value is not None]
    if not observed:
        s.status = "not observed"
        lim = [x for x in days if x.status == "not resolvable"]
        s.sentence = (f"{s.label}: not countable on the imagery available (GSD too coarse)" if lim else
                      f"{s.label}: not observed (no {_SENSOR_WORD[s.sensor]} of the site in this period)")
        return
    s.status = "observed"
    if s.aggregate == "sum":
        total, score, med, mean, nhist, window = _sum_window(observed, len(observed) - 1, window_days,
                                                             short_days, min_n)
        s.value, s.value_day = total, window[-1].day
        s.evidence = [e for x in window for e in x.evidence]
        first_w, k = window[0].day, len(window)
        span = (window[-1].day - first_w).days + 1
        if score is not None and med is not None and mean is not None:
            s.baseline_median, s.baseline_mean, s.baseline_n, s.score = med, mean, nhist, score
            s.sentence = (f"{s.label}: {_fmt(total)} in {k} observed day{'s' if k > 1 else ''} "
                          f"({first_w} to {window[-1].day}, {span} calendar days) against a {window_days}-day "
                          f"median of {_fmt(med)} a day (mean {mean:.2f}, {nhist} observed days); "
                          f"score {score:+.1f}")
        else:
            s.sentence = (f"{s.label}: {_fmt(total)} in {k} observed day(s) to {window[-1].day}; "
                          f"no baseline yet ({nhist} observed days before, {min_n} needed)")
    else:
        last = observed[-1]
        s.value, s.value_day, s.evidence = last.value, last.day, list(last.evidence)
        s.baseline_median, s.baseline_n, s.score = last.baseline_median, last.baseline_n, last.score
        prior = [float(x.value or 0.0) for x in observed[:-1]
                 if x.day >= last.day - timedelta(days=window_days)]
        s.baseline_mean = float(np.mean(prior)) if prior else None
        prev = f" (previous {_fmt(observed[-2].value)} on {observed[-2].day})" if len(observed) > 1 else ""
        stale = (s.as_of - last.day).days
        when = f"on {last.day}" + (f", {stale} day{'s' if stale > 1 else ''} before the as-of day"
                                   if stale > 0 else "")
        if last.score is not None:
            s.sentence = (f"{s.label}: {_fmt(last.value)} {when}{prev} against a {window_days}-day median of "
                          f"{_fmt(last.baseline_median)} ({last.baseline_n} observations); score {last.score:+.1f}")
        else:
            s.sentence = (f"{s.label}: {_fmt(last.value)} {when}{prev}; no baseline yet "
                          f"({last.baseline_n} earlier observations, {min_n} needed)")
    if not s.evidence and s.aggregate == "sum" and s.status == "observed":
        # a quiet window rests on the sensor having seen the area on those days
        s.evidence = [e for x in observed[-short_days:] for e in _coverage_ids.get((s.sensor, x.day), [])]
    if not s.evidence:
        # a zero rests on the last evidence seen before it (the visits that ended, the last count)
        last_seen = [x for x in observed if x.evidence]
        if last_seen:
            s.evidence = list(last_seen[-1].evidence)
            s.sentence += f"; last evidence on {last_seen[-1].day}"
    if s.change_points:
        cp = s.change_points[-1]
        s.sentence += (f"; level shift on {cp['day']} from a median of {_fmt(cp['before_median'])} "
                       f"to {_fmt(cp['after_median'])}")


_SENSOR_WORD = {"adsb": "ADS-B coverage", "ais": "AIS coverage", "imagery": "imagery", "analyst": "analyst report"}


def by_name(series: Iterable[Series]) -> dict[str, Series]:
    return {s.name: s for s in series}
