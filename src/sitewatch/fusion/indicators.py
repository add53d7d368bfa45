"""Daily indicators per site, each against the site's own trailing baseline.

Contract: :func:`compute` turns a site's evidence rows (see :mod:`sitewatch.fusion.evidence`)
and the days each sensor covered the area into one :class:`Series` per indicator (and per
zone for vehicles): one :class:`Day` per UTC day with a value, or ``None`` and the status
``not observed`` (no sensor saw the site that day) or ``not resolvable`` (the imagery's GSD
was too coarse for the class). A day without observation is never a zero.

Indicators are registered with :func:`indicator` (a dict filled by a decorator). Two
aggregations: ``sum`` indicators count events (arrivals, departures, gaps, dark visits) and
are judged on the total of the last ``short_days`` observed days (or, for a rise or fall that
lasts, of the last :data:`SUSTAINED_DAYS`, see below); ``level`` indicators count
things present on a day (aircraft, vehicles or ships on one image, ships on a port visit,
vessels loitering offshore) and are judged on the latest observed day.

What a day's value is, and which evidence rows back it (each series lists the row kinds it
counts in :attr:`Series.kinds`):

- event sums: the number of event rows that began that day;
- episodes (``ships_at_quay``, ``loitering``): the distinct vessels whose episode overlaps
  the day (an episode spans every day from its start to its end, or to the last day of
  data while it is open), cited to those episode rows;
- imagery (``aircraft_on_ground``, ``vehicles``, ``ships_imaged``): detections only: the
  total of one scene (the day's largest), cited to exactly that scene's count rows of the
  series' classes, whose values sum to the value. A zone series (``vehicles@park-north``)
  is observed only on days with a detected scene that has count rows for that zone;
- analyst observations have their own indicators (``aircraft_reported``,
  ``vehicles_reported``, ``ships_reported``, sensor ``analyst``): the largest count
  reported that day, cited to exactly that row. Detections and analyst counts are never
  added or merged into one number.

A zero rests on the rows that show the sensor saw the area (``air.coverage`` /
``sea.coverage`` of those days, or an imagery scene's zero-count rows).

Baseline: the observed values of the trailing ``window_days`` before each day (or before
the first day of a ``sum`` window), never the day itself: median, MAD, mean and variance.
Fewer than ``min_baseline`` observed days (7 for daily feeds, 3 for imagery and analysts)
→ no score. Scores keep one meaning: standard deviations of a normal variable with the same
tail probability (+3 ≈ one-sided p 0.00135). The rule:

- ``sum`` indicators, and ``level`` indicators whose baseline spread is smaller than a
  count's own noise (1.4826 · MAD < sqrt(max(median, 1)), e.g. a quiet all-zero baseline),
  use a count model: the observed count x against a Poisson with the baseline's mean rate
  (times the window's days), or a negative binomial with the baseline's mean and variance
  (method of moments) when the variance exceeds the mean. Score = Φ⁻¹(1 − P(X ≥ x)) when
  the upper tail is the smaller one (never below 0), −Φ⁻¹(1 − P(X ≤ x)) when the lower one
  is (never above 0). A baseline with no event at all is given a rate of half an event over
  its days, so one event is surprising but never infinitely so; scores are computed from
  log tail probabilities and are always finite.
- ``level`` indicators with a healthy baseline spread use the robust score
  (x − median) / (1.4826 · MAD) (1.4826 makes MAD a standard deviation under normal noise).

:attr:`Day.score_method` / :attr:`Series.score_method` say which (``poisson``, ``negbin``,
``mad``).

Footnotes: every number a sentence states about the data is recomputable from that
sentence's own evidence: :attr:`Series.sentence` from :attr:`Series.evidence` (rows of
:attr:`Series.kinds` inside ``window_from``..``window_to``: a sum's value is the number of
those rows, a level's the sum of one scene's / one report's values or the distinct vessels
of the episodes overlapping the day; a zero cites the coverage rows of its days),
:attr:`Series.peak_sentence` from ``peak_evidence``, ``trough_sentence`` from
``trough_evidence``, ``shift_sentence`` from ``shift_evidence`` (each observed day from the
shift on). A sentence states its value first, then only its window's dates, the window's
length ("3-day window of observed days"), an imagery split by type that adds up to the
value, and one parenthesis opening with "baseline:" for the derived figures (median, mean,
earlier observed days, score and its model). :func:`check_series` verifies all of this.

Sustained change (``sum`` indicators): a modest rise kept up for a week — a few more passenger
ships than the ferry schedule, a steady trickle of extra transports — reaches no high score in
any 3-day window. So the total of the last :data:`SUSTAINED_DAYS` observed days is scored too
and stated instead of the 3-day one when it sees what that one misses *and* the change is
still under way: its score reaches :data:`SUSTAINED_SCORE` while the last ``short_days``' does
not, and leans the same way (above 0 for a rise, below 0 for a fall: a burst that is over does
not read as a rise now). A 3-day window that reaches the threshold itself is the claim stated
(the sharper one).

Recent extremes: the highest and lowest score of windows (sum: of ``short_days`` observed days,
or of :data:`SUSTAINED_DAYS` where no short one reaches :data:`SUSTAINED_SCORE`) or days
(level) ending in the last :data:`RECENT_DAYS`, each with its own value, window, rows and
sentence.

Change points: binary segmentation of the observed values (largest standardised difference of
segment medians and means, segments of at least 3 observations, threshold 3.5 standard errors);
the latest one is stated in ``shift_sentence``, cited to the rows of every observed day from
the shift on. It is not a peak or trough (its statistic is not a tail probability).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats as sps
from scipy.special import logsumexp, ndtri_exp

from sitewatch.fusion.evidence import VEHICLE_CLASSES, near_bbox
from sitewatch.reference import types as actypes
from sitewatch.sites import Site
from sitewatch.store import evidence as EVD
from sitewatch.store import positions as POS
from sitewatch.store.db import Store

WINDOW_DAYS = 90
SHORT_DAYS = 3
RECENT_DAYS = 14  # a burst within two weeks still bears on the judgement
SUSTAINED_DAYS = 7  # sum indicators: the longer window that sees a modest rise kept up for a week
SUSTAINED_SCORE = 2.5  # ... stated when its score is at least this (either sign)
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution × 1.4826 = its standard deviation
CP_THRESHOLD = 3.5
CP_MIN_SEGMENT = 3
MIN_BASELINE = {"adsb": 7, "ais": 7, "imagery": 3, "analyst": 3}
EMPTY_BASELINE_EVENTS = 0.5  # rate of a baseline with no event: half an event over its days

Row = Mapping[str, Any]
Extracted = dict[str, dict[date, tuple[float, list[str]]]]


@dataclass
class Day:
    """One day of one indicator."""

    day: date
    value: float | None
    status: str  # observed | not observed | not resolvable
    evidence: list[str] = field(default_factory=list)  # rows behind the value (coverage rows for a zero)
    baseline_median: float | None = None
    baseline_mad: float | None = None
    baseline_n: int = 0
    score: float | None = None
    baseline_mean: float | None = None
    baseline_var: float | None = None
    score_method: str | None = None  # poisson | negbin | mad


@dataclass
class Series:
    """One indicator of one site: its days, where it shifted level, and its state at ``as_of``.

    ``sentence`` states ``value`` over ``window_from``..``window_to`` and is backed by
    ``evidence`` alone; ``peak_*``, ``trough_*`` and ``shift_*`` are self-contained the same way.
    """

    name: str
    label: str
    sensor: str
    aggregate: str
    days: list[Day]
    as_of: date
    value: float | None = None  # window total (sum) or latest observed value (level)
    value_day: date | None = None  # last day of the window (sum) or the value's day (level)
    score: float | None = None
    baseline_median: float | None = None
    baseline_mean: float | None = None
    baseline_n: int = 0
    status: str = "not observed"
    sentence: str = ""
    evidence: list[str] = field(default_factory=list)
    change_points: list[dict[str, Any]] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)  # value by type/class, from ``evidence``
    peak_score: float | None = None  # highest score of the windows/days ending in the last RECENT_DAYS
    peak_day: date | None = None  # = peak_window_to
    peak_basis: str = ""  # "3-day total" | "value"
    trough_score: float | None = None  # lowest score of the last RECENT_DAYS
    trough_day: date | None = None
    trough_basis: str = ""
    # -- what the stated numbers cover ---------------------------------------------------
    window_from: date | None = None  # sum: first observed day of the short window; level: value day
    window_to: date | None = None  # sum: last observed day of the short window; level: value day
    kinds: list[str] = field(default_factory=list)  # evidence kinds counted (coverage rows back zeros)
    score_method: str | None = None  # poisson | negbin | mad
    baseline_var: float | None = None
    peak_value: float | None = None
    peak_window_from: date | None = None
    peak_window_to: date | None = None
    peak_evidence: list[str] = field(default_factory=list)
    peak_sentence: str = ""
    peak_baseline_median: float | None = None  # the baseline the peak was judged against
    peak_baseline_mean: float | None = None
    peak_baseline_n: int = 0
    peak_score_method: str | None = None
    trough_value: float | None = None
    trough_window_from: date | None = None
    trough_window_to: date | None = None
    trough_evidence: list[str] = field(default_factory=list)
    trough_sentence: str = ""
    trough_baseline_median: float | None = None
    trough_baseline_mean: float | None = None
    trough_baseline_n: int = 0
    trough_score_method: str | None = None
    shift_day: date | None = None  # latest change point: first day of the new level
    shift_t: float | None = None  # its signed standardised statistic (not a tail-probability score)
    shift_before: float | None = None  # median of the observed days before (baseline)
    shift_after: float | None = None  # median of the observed days from shift_day to shift_window_to
    shift_window_from: date | None = None
    shift_window_to: date | None = None
    shift_evidence: list[str] = field(default_factory=list)
    shift_sentence: str = ""

    def as_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class IndicatorDef:
    name: str
    label: str
    sensor: str
    aggregate: str  # sum | level
    extract: Callable[[Sequence[Row], Site], Extracted]
    doc: str
    kinds: tuple[str, ...] = ()  # evidence kinds the value counts
    count_by: str = "rows"  # rows: each cited row (or episode) counts one; values: rows' values add up


INDICATORS: dict[str, IndicatorDef] = {}


def indicator(name: str, label: str, sensor: str, aggregate: str, kinds: Sequence[str] = (),
              count_by: str = "rows") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an extractor: ``(evidence rows, site) -> {series name: {day: (value, ids)}}``.

    Only days the extractor saw something are returned; which days count as observed (and
    therefore zero when absent) is decided from sensor coverage by :func:`compute`.
    ``kinds`` are the evidence kinds the value counts; ``count_by`` whether each cited row
    counts one (events, episodes) or the rows' values add up (imagery and analyst counts).
    """
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        INDICATORS[name] = IndicatorDef(name, label, sensor, aggregate, fn, (fn.__doc__ or "").strip(),
                                        tuple(kinds), count_by)
        return fn

    return deco


def subject_key(r: Row) -> str:
    """Who an evidence row is about (aircraft, vessel), or the row itself when it names no one."""
    return str(r["subject"] or r["evidence_id"])


def _day(t: datetime) -> date:
    return t.astimezone(UTC).date()


def _events(rows: Sequence[Row], kinds: Iterable[str], pred: Callable[[Row], bool] | None = None,
            name: str = "") -> Extracted:
    ks = set(kinds)
    out: dict[date, tuple[float, list[str]]] = {}
    for r in rows:
        if r["kind"] in ks and (pred is None or pred(r)):
            d = _day(r["t_start"])
            v, ids = out.get(d, (0.0, []))
            out[d] = (v + 1.0, [*ids, r["evidence_id"]])
    return {name: out}


MOVEMENT_KINDS = ("air.arrival", "air.departure", "air.touch-and-go", "air.approach", "air.dark-visit")


@indicator("heavy_arrivals", "heavy-lift arrivals", "adsb", "sum", ["air.arrival"])
def _heavy_arrivals(rows: Sequence[Row], site: Site) -> Any:
    """Arrivals of heavy military airlifters (An-124, Il-76, C-17 …)."""
    return _events(rows, ["air.arrival"], lambda r: bool(r["ref"].get("heavy")), "heavy_arrivals")


@indicator("heavy_departures", "heavy-lift departures", "adsb", "sum", ["air.departure"])
def _heavy_departures(rows: Sequence[Row], site: Site) -> Any:
    """Departures of heavy military airlifters."""
    return _events(rows, ["air.departure"], lambda r: bool(r["ref"].get("heavy")), "heavy_departures")


@indicator("dark_visits", "dark visits (inferred)", "adsb", "sum", ["air.dark-visit"])
def _dark_visits(rows: Sequence[Row], site: Site) -> Any:
    """Aircraft that went dark near the site and reappeared: inferred unreported visits."""
    return _events(rows, ["air.dark-visit"], None, "dark_visits")


@indicator("military_movements", "military aircraft movements", "adsb", "sum", MOVEMENT_KINDS)
def _military(rows: Sequence[Row], site: Site) -> Any:
    """Arrivals, departures, touch-and-goes and approaches of military aircraft."""
    return _events(rows, MOVEMENT_KINDS, lambda r: bool(r["ref"].get("military")), "military_movements")


@indicator("military_other", "military aircraft flying, heavy transports aside (airframes a day)", "adsb",
           "sum", MOVEMENT_KINDS)
def _military_other(rows: Sequence[Row], site: Site) -> Any:
    """Military aircraft other than the heavy airlifters (fighters, helicopters, patrol and
    liaison aircraft) that moved at the site each day — flying the heavy-airlift indicators do
    not already count —, one count per airframe a day, cited to its first movement that day.
    A sortie is a departure and an arrival of one airframe: counting movements would count
    it twice and give the series a spread (always even, twice the variance) that no count
    model fits, so quiet days read as falls and busy ones as surges far more often than the
    score says."""
    first: dict[tuple[date, str], Row] = {}
    for r in sorted(rows, key=lambda r: (r["t_start"], r["evidence_id"])):
        if r["kind"] in MOVEMENT_KINDS and bool(r["ref"].get("military")) and not r["ref"].get("heavy") \
                and not r["ref"].get("passenger"):
            first.setdefault((_day(r["t_start"]), subject_key(r)), r)
    ids = {r["evidence_id"] for r in first.values()}
    return _events(rows, MOVEMENT_KINDS, lambda r: r["evidence_id"] in ids, "military_other")


@indicator("passenger_flights", "passenger and VIP arrivals", "adsb", "sum", ["air.arrival"])
def _passenger_flights(rows: Sequence[Row], site: Site) -> Any:
    """Arrivals of airliner and government/VIP airframes (Tu-154, Il-62, Tu-214, A319 …): what
    moves people rather than equipment — an evacuation's airlift. One count per visit (the
    arrival; its departure would count the same airframe twice and double the day-to-day
    spread the score is judged against)."""
    return _events(rows, ["air.arrival"], lambda r: bool(r["ref"].get("passenger")), "passenger_flights")


@indicator("adsb_gaps", "ADS-B gaps near the site", "adsb", "sum", ["air.dark-gap"])
def _adsb_gaps(rows: Sequence[Row], site: Site) -> Any:
    """Transponder gaps (dark gaps) of aircraft near the site."""
    return _events(rows, ["air.dark-gap"], None, "adsb_gaps")


@indicator("vessel_departures", "vessel departures", "ais", "sum", ["sea.vessel-departure"])
def _vessel_departures(rows: Sequence[Row], site: Site) -> Any:
    """Vessels leaving the port."""
    return _events(rows, ["sea.vessel-departure"], None, "vessel_departures")


PASSENGER_SHIP_TYPES = range(60, 70)  # AIS ship types 60–69: passenger ships and ferries


@indicator("passenger_departures", "passenger ship departures", "ais", "sum", ["sea.vessel-departure"])
def _passenger_departures(rows: Sequence[Row], site: Site) -> Any:
    """Passenger ships and ferries (AIS ship type 60–69) leaving the port: people sailing."""
    return _events(rows, ["sea.vessel-departure"],
                   lambda r: (r["ref"].get("ship_type") or 0) in PASSENGER_SHIP_TYPES, "passenger_departures")


NAVAL_SHIP_TYPES = (35,)  # AIS ship type 35: military operations
SORTIE_RETURN_DAYS = 14  # a naval vessel back within this many days of leaving is returning, not calling


def is_naval(ref: Mapping[str, Any] | None) -> bool:
    """A warship, naval auxiliary or government vessel (the reference's government marker,
    AIS ship type 35, or a military flag)."""
    ref = ref or {}
    return bool(ref.get("government")) or ref.get("ship_type") in NAVAL_SHIP_TYPES or bool(ref.get("military"))


def naval_calls(rows: Sequence[Row]) -> list[Row]:
    """Port visits begun by naval or government vessels — auxiliaries, landing ships,
    chartered cargo ships — other than a warship coming back from a sortie (a visit by a
    vessel that left the port in the :data:`SORTIE_RETURN_DAYS` days before is its return),
    and other than a visit already under way when the vessel was first seen (no arrival)."""
    left: dict[str, list[datetime]] = defaultdict(list)
    for r in rows:
        if r["kind"] == "sea.vessel-departure" and is_naval(r["ref"]):
            left[subject_key(r)].append(r["t_start"])
    win = timedelta(days=SORTIE_RETURN_DAYS)
    return [r for r in rows if r["kind"] == "sea.port-visit" and is_naval(r["ref"])
            and (r["ref"] or {}).get("arrival_observed", True)
            and not any(r["t_start"] - win <= t < r["t_start"] for t in left.get(subject_key(r), ()))]


@indicator("naval_calls", "naval and government ships calling (AIS)", "ais", "sum", ["sea.port-visit"])
def _naval_calls(rows: Sequence[Row], site: Site) -> Any:
    """Naval and government vessels arriving at the port (auxiliaries, landing ships, chartered
    cargo ships: what comes to load or unload equipment), one count per visit on the day it
    began; a warship back from a sortie of the last two weeks is not a call."""
    ids = {r["evidence_id"] for r in naval_calls(rows)}
    return _events(rows, ["sea.port-visit"], lambda r: r["evidence_id"] in ids, "naval_calls")


NEWCOMER_DAYS = 30  # a ship that had not sailed from the port in this many days is not on its schedule


@indicator("passenger_newcomers", "passenger ships not on the port's schedule", "ais", "sum",
           ["sea.vessel-departure"])
def _passenger_newcomers(rows: Sequence[Row], site: Site) -> Any:
    """Departures of passenger ships and ferries (AIS ship type 60–69) that had not sailed
    from the port in the 30 days before: chartered ships rather than the ferry on its
    schedule — an evacuation brings ships that do not usually call. A ship's first departure
    in the data counts only once the data reaches 30 days before it."""
    deps = sorted((r for r in rows if r["kind"] == "sea.vessel-departure"
                   and (r["ref"].get("ship_type") or 0) in PASSENGER_SHIP_TYPES), key=lambda r: r["t_start"])
    start = min((r["t_start"] for r in rows), default=None)
    win = timedelta(days=NEWCOMER_DAYS)
    last: dict[str, datetime] = {}
    ids: set[str] = set()
    for r in deps:
        k = subject_key(r)
        prev = last.get(k)
        if (prev is None and start is not None and r["t_start"] - start >= win) or (
                prev is not None and r["t_start"] - prev >= win):
            ids.add(r["evidence_id"])
        last[k] = r["t_start"]
    return _events(rows, ["sea.vessel-departure"], lambda r: r["evidence_id"] in ids, "passenger_newcomers")


@indicator("other_departures", "vessel departures other than passenger and naval ships", "ais", "sum",
           ["sea.vessel-departure"])
def _other_departures(rows: Sequence[Row], site: Site) -> Any:
    """Merchant and other traffic leaving the port: departures other than passenger ships
    (``passenger_departures``) and naval or government vessels (warships leaving, ships that
    called): a count disjoint from the ones those read, so no departure is counted twice."""
    return _events(rows, ["sea.vessel-departure"],
                   lambda r: (r["ref"].get("ship_type") or 0) not in PASSENGER_SHIP_TYPES and not is_naval(r["ref"]),
                   "other_departures")


@indicator("ais_gaps", "AIS gaps near the site", "ais", "sum", ["sea.ais-gap"])
def _ais_gaps(rows: Sequence[Row], site: Site) -> Any:
    """AIS transmission gaps of vessels near the site."""
    return _events(rows, ["sea.ais-gap"], None, "ais_gaps")


def _episodes(rows: Sequence[Row], kind: str, name: str) -> Extracted:
    """Distinct subjects with an episode of ``kind`` overlapping each day; an open episode
    runs to the last day of data."""
    per_day: dict[date, dict[str, str]] = defaultdict(dict)
    last = max((_day(r["t_end"] or r["t_start"]) for r in rows), default=None)
    for r in sorted(rows, key=lambda r: (r["t_start"], r["evidence_id"])):
        if r["kind"] != kind:
            continue
        d0 = _day(r["t_start"])
        d1 = _day(r["t_end"]) if r["t_end"] is not None else max(last or d0, d0)
        d = d0
        while d <= d1:
            per_day[d][subject_key(r)] = r["evidence_id"]
            d += timedelta(days=1)
    return {name: {d: (float(len(v)), sorted(set(v.values()))) for d, v in per_day.items()}}


@indicator("loitering", "vessels loitering offshore", "ais", "level", ["sea.loitering"])
def _loitering(rows: Sequence[Row], site: Site) -> Any:
    """Distinct vessels loitering offshore on each day (waiting, holding in international
    waters; an episode spans every day it overlaps, so ongoing holding counts every day)."""
    return _episodes(rows, "sea.loitering", "loitering")


@indicator("ships_at_quay", "ships in port (AIS)", "ais", "level", ["sea.port-visit"])
def _ships_in_port(rows: Sequence[Row], site: Site) -> Any:
    """Distinct vessels on a port visit on each day (a visit spans every day it overlaps)."""
    return _episodes(rows, "sea.port-visit", "ships_at_quay")


def _partial(r: Row) -> bool:
    """A count complete only for the larger objects of its class at the scene's GSD
    (:func:`sitewatch.detect.gate.detector_gate` "part": ``ref.from_m``)."""
    return r["ref"].get("from_m") is not None


def _comparable(rows: Sequence[Row], classes: Callable[[str], bool]) -> Callable[[Row], bool]:
    """Which count rows of ``classes`` may share one series: full counts, and partial counts
    only where the site has no full count of those classes at all (a series of "aircraft
    ≥ 36 m" counts is consistent with itself; set beside full counts it would read as a drop)."""
    full = any(r["kind"] == "imagery.count" and classes(str(r["ref"].get("class"))) and not _partial(r)
               and r["ref"].get("resolvable") is not False for r in rows)
    return (lambda r: not _partial(r)) if full else (lambda r: True)


def _imagery_level(rows: Sequence[Row], classes: Callable[[str], bool], by_zone: bool, name: str
                   ) -> Extracted:
    """Per series (and zone) and day: the largest total of one scene, with exactly that
    scene's count rows. Detections only; analyst observations are separate indicators.
    Partial counts enter only a series that has no full counts (:func:`_comparable`)."""
    scene_rows: dict[tuple[str, str, date], list[Row]] = defaultdict(list)
    ok = _comparable(rows, classes)
    for r in rows:
        if r["kind"] != "imagery.count" or not classes(str(r["ref"].get("class"))) or not ok(r):
            continue
        keys = [name]
        zone = r["ref"].get("zone")
        if by_zone and zone:
            keys.append(f"{name}@{zone}")
        for k in keys:
            scene_rows[(k, str(r["ref"].get("scene_id")), _day(r["t_start"]))].append(r)
    out: dict[str, dict[date, tuple[float, list[str]]]] = defaultdict(dict)
    for (k, _scene, d), rs in sorted(scene_rows.items()):
        v = float(sum(float(r["value"] or 0.0) for r in rs))
        if d not in out[k] or v > out[k][d][0]:
            out[k][d] = (v, [r["evidence_id"] for r in rs])
    return dict(out)


def _analyst_level(rows: Sequence[Row], pred: Callable[[Row], bool], name: str) -> Extracted:
    """Per day: the largest count analysts reported, cited to exactly that observation."""
    best: dict[date, Row] = {}
    for r in sorted(rows, key=lambda r: (r["t_start"], r["evidence_id"])):
        if r["kind"] == "analyst.observation" and r["value"] is not None and pred(r):
            d = _day(r["t_start"])
            if d not in best or float(r["value"]) > float(best[d]["value"]):
                best[d] = r
    return {name: {d: (float(r["value"]), [r["evidence_id"]]) for d, r in best.items()}}


def _is_aircraft_class(c: str | None) -> bool:
    if not c:
        return False
    return c.lower() in ("plane", "aircraft", "helicopter") or actypes.lookup(c.upper()) is not None


_IMAGERY_CLASSES: dict[str, Callable[[str], bool]] = {
    "aircraft_on_ground": lambda c: c in ("plane", "helicopter"),
    "vehicles": lambda c: c in VEHICLE_CLASSES,
    "ships_imaged": lambda c: c == "ship",
}


@indicator("aircraft_on_ground", "aircraft on the ground (imagery)", "imagery", "level", ["imagery.count"],
           "values")
def _aircraft_on_ground(rows: Sequence[Row], site: Site) -> Any:
    """Aircraft detected on the site's imagery (one scene's total per day)."""
    return _imagery_level(rows, _IMAGERY_CLASSES["aircraft_on_ground"], False, "aircraft_on_ground")


@indicator("vehicles", "vehicles (imagery)", "imagery", "level", ["imagery.count"], "values")
def _vehicles(rows: Sequence[Row], site: Site) -> Any:
    """Large and small vehicles detected on the site's imagery, in total and by zone."""
    return _imagery_level(rows, _IMAGERY_CLASSES["vehicles"], True, "vehicles")


@indicator("ships_imaged", "ships on imagery", "imagery", "level", ["imagery.count"], "values")
def _ships_imaged(rows: Sequence[Row], site: Site) -> Any:
    """Ships detected on the site's imagery."""
    return _imagery_level(rows, _IMAGERY_CLASSES["ships_imaged"], False, "ships_imaged")


@indicator("aircraft_reported", "aircraft reported by analysts", "analyst", "level", ["analyst.observation"],
           "values")
def _aircraft_reported(rows: Sequence[Row], site: Site) -> Any:
    """Aircraft counted by analysts (class an aircraft or a known aircraft type)."""
    return _analyst_level(rows, lambda r: _is_aircraft_class(r["ref"].get("class")), "aircraft_reported")


@indicator("vehicles_reported", "vehicles reported by analysts", "analyst", "level", ["analyst.observation"],
           "values")
def _vehicles_reported(rows: Sequence[Row], site: Site) -> Any:
    """Vehicles counted by analysts (class containing "vehicle")."""
    return _analyst_level(rows, lambda r: "vehicle" in str(r["ref"].get("class") or "").lower(),
                          "vehicles_reported")


@indicator("ships_reported", "ships reported by analysts", "analyst", "level", ["analyst.observation"],
           "values")
def _ships_reported(rows: Sequence[Row], site: Site) -> Any:
    """Ships counted by analysts (class ship, warship or vessel)."""
    return _analyst_level(rows, lambda r: str(r["ref"].get("class") or "").lower() in ("ship", "warship", "vessel"),
                          "ships_reported")


# -- observed days -----------------------------------------------------------------------

def observed_days(rows: Sequence[Row], coverage: Sequence[Row]) -> dict[str, set[date]]:
    """Days each sensor saw the site: positions in the area, or evidence of that sensor."""
    out: dict[str, set[date]] = defaultdict(set)
    for c in coverage:
        out[str(c["source"])].add(c["day"])
    for r in rows:
        if r["kind"] in ("imagery.count", "imagery.limit", "imagery.scene"):
            continue  # imagery days are decided per class (and zone) below
        out[str(r["sensor"])].add(_day(r["t_start"]))
    return out


COVERAGE_KINDS = ("air.coverage", "sea.coverage")


def _imagery_status(rows: Sequence[Row], classes: Callable[[str], bool], zone: str | None = None
                    ) -> tuple[set[date], set[date]]:
    """(days with a countable scene, days whose scenes could not resolve the classes), over
    the whole site or, with ``zone``, over that zone's count rows only."""
    countable: set[date] = set()
    limited: set[date] = set()
    ok = _comparable(rows, classes)
    for r in rows:
        if r["kind"] not in ("imagery.count", "imagery.limit") or not classes(str(r["ref"].get("class"))):
            continue
        if zone is not None and r["ref"].get("zone") != zone:
            continue
        if r["kind"] == "imagery.count" and r["ref"].get("resolvable") is not False and ok(r):
            countable.add(_day(r["t_start"]))
        else:
            limited.add(_day(r["t_start"]))
    return countable, limited - countable


# -- statistics --------------------------------------------------------------------------

def robust_scale(median: float, mad: float) -> float:
    """The old floor-protected scale (MAD as a standard deviation, at least a count's Poisson
    noise); still what the charts draw as the band. Scores no longer divide by the floor."""
    return max(MAD_TO_SIGMA * mad, math.sqrt(max(median, 1.0)))


def baseline(values: Sequence[float]) -> tuple[float, float]:
    """(median, MAD) of ``values``."""
    a = np.asarray(values, dtype=float)
    med = float(np.median(a))
    return med, float(np.median(np.abs(a - med)))


@dataclass(frozen=True)
class Baseline:
    """Trailing baseline of one day or window."""

    median: float
    mad: float
    mean: float
    var: float  # sample variance (n - 1), 0 for one value
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Baseline:
        a = np.asarray(values, dtype=float)
        med, mad = baseline(a.tolist())
        return cls(med, mad, float(a.mean()), float(a.var(ddof=1)) if len(a) > 1 else 0.0, len(a))

    @property
    def rate(self) -> float:
        """Mean per day for the count model; half an event over the baseline's days when empty."""
        return self.mean if self.mean > 0 else EMPTY_BASELINE_EVENTS / max(self.n, 1)

    @property
    def healthy_spread(self) -> bool:
        """Whether the MAD is at least a count's own noise (then the robust score is used for levels)."""
        return MAD_TO_SIGMA * self.mad >= math.sqrt(max(self.median, 1.0)) and self.mad > 0


def _log_tails(x: int, dist: Any, mean: float, sd: float) -> tuple[float, float]:
    """(log P(X >= x), log P(X <= x)), summed from log probabilities where scipy underflows."""
    log_up = float(dist.logsf(x - 1)) if x > 0 else 0.0
    if not math.isfinite(log_up) or log_up < -700:
        ks = np.arange(x, x + int(50 + 40 * sd + 10 * math.sqrt(x + 1)) + 2000)
        log_up = float(logsumexp(dist.logpmf(ks)))
    log_lo = float(dist.logcdf(x))
    if not math.isfinite(log_lo) or log_lo < -700:
        log_lo = float(logsumexp(dist.logpmf(np.arange(0, x + 1))))
    return min(log_up, 0.0), min(log_lo, 0.0)


def count_score(x: float, rate: float, var: float | None = None, k: int = 1) -> tuple[float, str]:
    """Score of count ``x`` over ``k`` days against a baseline of ``rate`` a day (variance
    ``var`` a day): Poisson, or negative binomial (method of moments) when ``var > rate``.

    Returns (score, method): the standard-normal quantile of the smaller tail probability,
    positive for the upper tail P(X >= x), negative for the lower P(X <= x), 0 when the
    smaller tail is above one half. Always finite.
    """
    rate = max(float(rate), 1e-12)
    n_obs = max(0, round(float(x)))
    if var is not None and var > rate:
        size = rate * rate / (var - rate) * k  # k independent days add their sizes
        p = rate / var
        dist, method = sps.nbinom(size, p), "negbin"
        sd = math.sqrt(var * k)
    else:
        dist, method = sps.poisson(rate * k), "poisson"
        sd = math.sqrt(rate * k)
    log_up, log_lo = _log_tails(n_obs, dist, rate * k, sd)
    if log_up < log_lo:
        return max(0.0, -float(ndtri_exp(log_up))), method
    return min(0.0, float(ndtri_exp(log_lo))), method


def _score(x: float, b: Baseline, level: bool, k: int = 1) -> tuple[float, str]:
    if level and b.healthy_spread:
        return (x - b.median) / (MAD_TO_SIGMA * b.mad), "mad"
    return count_score(x, b.rate, b.var, k)


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

    rows = EVD.list_evidence(store, site.name, t_to=as_of)
    coverage = POS.coverage_days(store, near_bbox(site, near_km or DEFAULT_NEAR_KM))
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
    by_id = {r["evidence_id"]: r for r in rows}
    wanted = set(only or INDICATORS)
    out: list[Series] = []
    for name, defn in INDICATORS.items():
        if name not in wanted:
            continue
        extracted = defn.extract(rows, site)
        names = sorted(extracted) if extracted else [name]
        if name not in names:
            names.insert(0, name)
        for sname in names:
            vals = extracted.get(sname, {})
            if defn.sensor == "imagery":
                zone = sname.split("@", 1)[1] if "@" in sname else None
                obs, lim = _imagery_status(rows, _IMAGERY_CLASSES[name], zone)
            elif defn.sensor == "analyst":
                obs, lim = set(vals), set()  # an analyst reports what they counted, nothing else
            else:
                obs, lim = observed[defn.sensor], set()
            label = defn.label if "@" not in sname else f"{defn.label.split(' (')[0]} in zone {sname.split('@')[1]}"
            s = _series(sname, label, defn, vals, obs, lim, first_day, last_day,
                        window_days, short_days, coverage_ids)
            if defn.count_by == "values" and s.evidence:
                _breakdown(s, by_id)
            out.append(s)
    return out


def _breakdown(s: Series, by_id: Mapping[str, Row]) -> None:
    """The value by aircraft type (or class), from exactly the cited rows; rows with objects first."""
    ev = [by_id[i] for i in s.evidence if i in by_id]
    ev.sort(key=lambda r: -(r["value"] or 0.0))
    s.evidence = [r["evidence_id"] for r in ev]
    s.breakdown = _split(ev)
    if len(s.breakdown) > 1 and s.status == "observed":
        s.sentence += " (by type: " + ", ".join(f"{_fmt(v)} {k}" for k, v in s.breakdown.items()) + ")"


def _split(rows: Iterable[Row]) -> dict[str, float]:
    counts: dict[str, float] = defaultdict(float)
    for r in rows:
        if r["kind"] not in COVERAGE_KINDS and r["value"]:
            counts[str(r["ref"].get("type") or r["ref"].get("class") or "?")] += float(r["value"])
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _kinds(defn: IndicatorDef) -> list[str]:
    return list(defn.kinds)


def _series(name: str, label: str, defn: IndicatorDef, vals: Mapping[date, tuple[float, list[str]]],
            observed: set[date], limited: set[date], first_day: date, last_day: date,
            window_days: int, short_days: int,
            coverage_ids: Mapping[tuple[str, date], list[str]] | None = None) -> Series:
    coverage_ids = coverage_ids or {}
    # the series starts early enough to give the first reported day a full baseline window
    start = min(first_day, *(d for d in vals), *(d for d in observed if d <= last_day)) if (
        vals or observed) else first_day
    days: list[Day] = []
    d = start
    while d <= last_day:
        if d in vals:
            days.append(Day(d, vals[d][0], "observed", list(vals[d][1])))
        elif d in observed:  # a zero rests on the coverage that saw the area
            days.append(Day(d, 0.0, "observed", list(coverage_ids.get((defn.sensor, d), []))))
        elif d in limited:
            days.append(Day(d, None, "not resolvable"))
        else:
            days.append(Day(d, None, "not observed"))
        d += timedelta(days=1)
    min_n = MIN_BASELINE.get(defn.sensor, 7)
    level = defn.aggregate == "level"
    obs_idx = [i for i, x in enumerate(days) if x.value is not None]
    for i in obs_idx:
        day = days[i]
        lo = day.day - timedelta(days=window_days)
        hist = [float(x.value) for x in days[:i] if x.value is not None and x.day >= lo]
        day.baseline_n = len(hist)
        if len(hist) >= min_n:
            b = Baseline.of(hist)
            day.baseline_median, day.baseline_mad = b.median, b.mad
            day.baseline_mean, day.baseline_var = b.mean, b.var
            day.score, day.score_method = _score(float(day.value or 0.0), b, level)
    s = Series(name, label, defn.sensor, defn.aggregate, [x for x in days if x.day >= first_day], last_day,
               kinds=_kinds(defn))
    cps = change_points_t([float(days[i].value or 0.0) for i in obs_idx])
    for k, t in cps:
        before = [float(days[i].value or 0.0) for i in obs_idx[:k]]
        after = [float(days[i].value or 0.0) for i in obs_idx[k:]]
        s.change_points.append({"day": days[obs_idx[k]].day, "before_median": float(np.median(before)),
                                "after_median": float(np.median(after)), "t": round(t, 2)})
    if limited:
        s.limits.append(f"{label}: not countable on the imagery of "
                        f"{', '.join(str(x) for x in sorted(limited)[-3:])} (GSD too coarse to count them "
                        "all)")
    observed_days_ = [days[i] for i in obs_idx]
    _judge(s, days, observed_days_, window_days, short_days, min_n)
    _recent_extremes(s, observed_days_, window_days, short_days, min_n)
    _shift(s, observed_days_, cps)
    return s


@dataclass
class _Claim:
    """One stated value: its window, its rows, its score against the baseline before it."""

    value: float
    window: list[Day]
    evidence: list[str]
    score: float | None
    method: str | None
    base: Baseline | None
    n_hist: int


def _window_evidence(window: Sequence[Day], total: float) -> list[str]:
    """The rows counted in a window; for a zero, the rows that show the area was seen."""
    if total:
        return [e for x in window if x.value for e in x.evidence]
    return [e for x in window for e in x.evidence]


def _sum_claim(observed: Sequence[Day], end: int, window_days: int, short_days: int, min_n: int) -> _Claim:
    """The ``short_days`` observed days ending at index ``end`` against the trailing baseline
    before their first day."""
    start = max(0, end - short_days + 1)
    window = list(observed[start:end + 1])
    total = float(sum(x.value or 0.0 for x in window))
    first_w = window[0].day
    hist = [float(x.value or 0.0) for x in observed[:start] if x.day >= first_w - timedelta(days=window_days)]
    ev = _window_evidence(window, total)
    if len(hist) < min_n:
        return _Claim(total, window, ev, None, None, None, len(hist))
    b = Baseline.of(hist)
    score, method = _score(total, b, False, len(window))
    return _Claim(total, window, ev, score, method, b, len(hist))


def _current_sum_claim(observed: Sequence[Day], window_days: int, short_days: int, min_n: int) -> _Claim:
    """The last ``short_days`` observed days' claim, or the last :data:`SUSTAINED_DAYS`' when
    that is a stronger rise (fall) still under way (see the module docstring)."""
    end = len(observed) - 1
    c = _sum_claim(observed, end, window_days, short_days, min_n)
    if short_days >= SUSTAINED_DAYS or c.score is None:
        return c
    w = _sum_claim(observed, end, window_days, SUSTAINED_DAYS, min_n)
    if w.score is None or len(w.window) <= len(c.window):
        return c
    if w.score >= SUSTAINED_SCORE and 0.0 < c.score < SUSTAINED_SCORE:
        return w
    if w.score <= -SUSTAINED_SCORE and -SUSTAINED_SCORE < c.score < 0.0:
        return w
    return c


def _level_claim(day: Day) -> _Claim:
    b = None
    if day.baseline_median is not None:
        b = Baseline(day.baseline_median, day.baseline_mad or 0.0, day.baseline_mean or 0.0,
                     day.baseline_var or 0.0, day.baseline_n)
    return _Claim(float(day.value or 0.0), [day], list(day.evidence), day.score, day.score_method, b,
                  day.baseline_n)


_METHOD_WORD = {"poisson": "Poisson tail", "negbin": "negative-binomial tail", "mad": "robust MAD"}


def _claim_sentence(s: Series, c: _Claim, window_days: int, min_n: int, as_of: date | None = None) -> str:
    """One self-contained sentence: the value over its window (backed by ``c.evidence``) and,
    in one parenthesis opening with "baseline:", the derived figures it is judged against.

    Outside that parenthesis the only numbers are the value, the window's dates and its
    length in observed days (written "N-day window"), and an imagery split by type.
    """
    if c.base is None:
        base = f" (baseline: none yet, {c.n_hist} earlier observed days of the {min_n} needed)"
    else:
        unit = " a day" if s.aggregate == "sum" else ""
        mean = f"{c.base.mean:.2f}" if s.aggregate == "sum" else f"{c.base.mean:.1f}"
        base = (f" (baseline: {window_days}-day median {_fmt(c.base.median)}{unit}, mean {mean} over "
                f"{c.base.n} earlier observed days; score {c.score:+.1f}, {_METHOD_WORD.get(c.method or '', c.method)})")
    if s.aggregate == "sum":
        a, b = c.window[0].day, c.window[-1].day
        k = len(c.window)
        if a == b:
            return f"{s.label}: {_fmt(c.value)} on {a}{base}"
        gaps = "" if (b - a).days + 1 == k else ", not consecutive"
        return f"{s.label}: {_fmt(c.value)} from {a} to {b} ({k}-day window of observed days{gaps}){base}"
    d = c.window[0].day
    latest = " (latest observation)" if as_of is not None and as_of > d else ""
    return f"{s.label}: {_fmt(c.value)} on {d}{latest}{base}"


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def _judge(s: Series, days: list[Day], observed: list[Day], window_days: int, short_days: int,
           min_n: int) -> None:
    if not observed:
        s.status = "not observed"
        lim = [x for x in days if x.status == "not resolvable"]
        s.sentence = (f"{s.label}: not countable on the imagery available (GSD too coarse)" if lim else
                      f"{s.label}: not observed (no {_SENSOR_WORD[s.sensor]} of the site in this period)")
        return
    s.status = "observed"
    c = (_current_sum_claim(observed, window_days, short_days, min_n) if s.aggregate == "sum"
         else _level_claim(observed[-1]))
    s.value, s.value_day = c.value, c.window[-1].day
    s.window_from, s.window_to = c.window[0].day, c.window[-1].day
    s.evidence = list(c.evidence)
    s.score, s.score_method = c.score, c.method
    s.baseline_n = c.n_hist
    if c.base is not None:
        s.baseline_median, s.baseline_mean, s.baseline_var = c.base.median, c.base.mean, c.base.var
    elif s.aggregate == "level":
        lo = observed[-1].day - timedelta(days=window_days)
        prior = [float(x.value or 0.0) for x in observed[:-1] if x.day >= lo]
        s.baseline_mean = float(np.mean(prior)) if prior else None
    s.sentence = _claim_sentence(s, c, window_days, min_n, s.as_of)


def _recent_extremes(s: Series, observed: list[Day], window_days: int, short_days: int, min_n: int) -> None:
    """Highest and lowest score of the windows (sum) or days (level) ending in the last
    :data:`RECENT_DAYS`: a burst last week still bears on the judgement after the score relaxes.
    Each comes with its own value, window, rows and sentence."""
    lo_day = s.as_of - timedelta(days=RECENT_DAYS - 1)
    cands: list[_Claim] = []
    lengths = sorted({short_days, max(short_days, SUSTAINED_DAYS)})
    for i, x in enumerate(observed):
        if x.day < lo_day:
            continue
        for c in ([_sum_claim(observed, i, window_days, k, min_n) for k in lengths] if s.aggregate == "sum"
                  else [_level_claim(x)]):
            if c.score is not None:
                cands.append(c)
    if not cands:
        return

    def basis(c: _Claim) -> str:
        return f"{len(c.window)}-day total" if s.aggregate == "sum" else "value"

    # the strongest short window (at equal scores the later one); a longer window only where no
    # short one reaches SUSTAINED_SCORE (it sees what they miss, it does not restate what they show)
    short = [c for c in cands if s.aggregate != "sum" or len(c.window) <= short_days]
    hi = max(short or cands, key=lambda c: (float(c.score or 0.0), c.window[-1].day))
    if float(hi.score or 0.0) < SUSTAINED_SCORE:
        hi = max(cands, key=lambda c: (float(c.score or 0.0), c.window[-1].day, -len(c.window)))
    lo = min(short or cands, key=lambda c: (float(c.score or 0.0), -c.window[-1].day.toordinal()))
    if float(lo.score or 0.0) > -SUSTAINED_SCORE:
        lo = min(cands, key=lambda c: (float(c.score or 0.0), -c.window[-1].day.toordinal(), len(c.window)))
    s.peak_score, s.peak_day, s.peak_basis = round(float(hi.score or 0.0), 2), hi.window[-1].day, basis(hi)
    s.peak_value, s.peak_window_from, s.peak_window_to = hi.value, hi.window[0].day, hi.window[-1].day
    s.peak_evidence, s.peak_sentence = list(hi.evidence), _claim_sentence(s, hi, window_days, min_n)
    s.peak_baseline_median = hi.base.median if hi.base else None
    s.peak_baseline_mean = hi.base.mean if hi.base else None
    s.peak_baseline_n, s.peak_score_method = hi.n_hist, hi.method
    s.trough_score, s.trough_day, s.trough_basis = round(float(lo.score or 0.0), 2), lo.window[-1].day, basis(lo)
    s.trough_value, s.trough_window_from, s.trough_window_to = lo.value, lo.window[0].day, lo.window[-1].day
    s.trough_evidence, s.trough_sentence = list(lo.evidence), _claim_sentence(s, lo, window_days, min_n)
    s.trough_baseline_median = lo.base.median if lo.base else None
    s.trough_baseline_mean = lo.base.mean if lo.base else None
    s.trough_baseline_n, s.trough_score_method = lo.n_hist, lo.method


def _shift(s: Series, observed: list[Day], cps: Sequence[tuple[int, float]]) -> None:
    """The latest change point in its own sentence, cited to every observed day from it on."""
    if not cps:
        return
    k, t = cps[-1]
    before = [float(x.value or 0.0) for x in observed[:k]]
    after_days = observed[k:]
    after = [float(x.value or 0.0) for x in after_days]
    s.shift_day, s.shift_t = after_days[0].day, round(t, 2)
    s.shift_before, s.shift_after = float(np.median(before)), float(np.median(after))
    s.shift_window_from, s.shift_window_to = after_days[0].day, after_days[-1].day
    s.shift_evidence = list(dict.fromkeys(e for x in after_days for e in x.evidence))  # episodes span days
    unit = " a day" if s.aggregate == "sum" else ""
    s.shift_sentence = (f"{s.label}: level shift on {s.shift_day}: median {_fmt(s.shift_after)}{unit} over the "
                        f"observed days from {s.shift_window_from} to {s.shift_window_to} (baseline: median "
                        f"{_fmt(s.shift_before)}{unit} over the {len(before)} observed days before; shift statistic "
                        f"{t:+.1f})")


_SENSOR_WORD = {"adsb": "ADS-B coverage", "ais": "AIS coverage", "imagery": "imagery", "analyst": "analyst report"}


def by_name(series: Iterable[Series]) -> dict[str, Series]:
    return {s.name: s for s in series}


# -- footnote checker --------------------------------------------------------------------

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# what a sentence may state besides its value: dates (checked against the window), the
# window's length, the labelled baseline parenthesis, signed scores, the by-type split
# (checked against the rows on its own)
_SET_ASIDE = (r"\(baseline:[^)]*\)", r"\b\d{4}-\d{2}-\d{2}\b", r"\b\d+-day\b", r"\(by type:[^)]*\)",
              r"[+\-]\d+(?:\.\d+)?")
_EPISODE_KINDS = ("sea.port-visit", "sea.loitering")


def _row_days(r: Row, episode: bool) -> tuple[date, date]:
    d0 = _day(r["t_start"])
    if episode:
        return d0, (_day(r["t_end"]) if r["t_end"] is not None else date.max)
    return d0, d0


def _per_day(s: Series, rows: Sequence[Row], a: date, b: date) -> dict[date, float]:
    """Each day of [a, b] that the rows show, with the value recomputed from those rows alone."""
    out: dict[date, float] = {}
    subjects: dict[date, set[str]] = defaultdict(set)
    for r in rows:
        episode = s.aggregate == "level" and r["kind"] in _EPISODE_KINDS
        d0, d1 = _row_days(r, episode)
        d0, d1 = max(d0, a), min(d1, b)
        d = d0
        while d <= d1:
            out.setdefault(d, 0.0)
            if r["kind"] in s.kinds:
                if episode:
                    subjects[d].add(subject_key(r))
                elif s.aggregate == "sum":
                    out[d] += 1.0
                else:
                    out[d] += float(r["value"] or 0.0)
            d += timedelta(days=1)
    for d, subj in subjects.items():
        out[d] = float(len(subj))
    return out


def _check_claim(s: Series, tag: str, value: float | None, a: date | None, b: date | None,
                 ids: Sequence[str], sentence: str, rows_by_id: Mapping[str, Row], median: bool = False
                 ) -> list[str]:
    p: list[str] = []
    where = f"{s.name} {tag}"
    if value is None:
        if ids:
            p.append(f"{where}: evidence without a value")
        return p
    if a is None or b is None or a > b:
        return [f"{where}: no window for value {_fmt(value)}"]
    if s.aggregate == "level" and not median and a != b:
        p.append(f"{where}: a level value must cover one day, not {a} to {b}")
    missing = [i for i in ids if i not in rows_by_id]
    if missing:
        p.append(f"{where}: cites unknown rows {missing[:3]}")
    rows = [rows_by_id[i] for i in ids if i in rows_by_id]
    if len(set(ids)) != len(ids):
        p.append(f"{where}: cites a row twice")
    if not rows:
        p.append(f"{where}: {_fmt(value)} with no evidence")
    counted = [r for r in rows if r["kind"] in s.kinds]
    for r in rows:
        if r["kind"] not in s.kinds and r["kind"] not in COVERAGE_KINDS:
            p.append(f"{where}: cites {r['evidence_id']} of kind {r['kind']}, not one of {s.kinds}")
        if r["kind"] in COVERAGE_KINDS and not median and counted:
            p.append(f"{where}: cites coverage {r['evidence_id']} next to counted rows")
        episode = s.aggregate == "level" and r["kind"] in _EPISODE_KINDS
        d0, d1 = _row_days(r, episode)
        if d1 < a or d0 > b:
            p.append(f"{where}: cites {r['evidence_id']} of {d0} outside {a}..{b}")
    per_day = _per_day(s, rows, a, b)
    if median:
        got = float(np.median(list(per_day.values()))) if per_day else None
        if got is None or abs(got - value) > 1e-9:
            p.append(f"{where}: states a median of {_fmt(value)}, the cited rows give {_fmt(got)}")
    elif s.aggregate == "sum":
        if abs(len(counted) - value) > 1e-9:
            p.append(f"{where}: states {_fmt(value)}, cites {len(counted)} rows of {s.kinds}")
    else:
        got = per_day.get(a, 0.0)
        if abs(got - value) > 1e-9:
            p.append(f"{where}: states {_fmt(value)} on {a}, the cited rows give {_fmt(got)}")
        scenes = {str(r["ref"].get("scene_id")) for r in counted if r["kind"] == "imagery.count"}
        if len(scenes) > 1:
            p.append(f"{where}: adds {len(scenes)} scenes into one value")
    if sentence:
        if not median and not sentence.startswith(f"{s.label}: {_fmt(value)} "):
            p.append(f"{where}: sentence does not state {_fmt(value)} first: {sentence!r}")
        for ds in _DATE.findall(sentence):
            d = date.fromisoformat(ds)
            if not a <= d <= b:
                p.append(f"{where}: sentence states {ds}, outside its window {a}..{b}")
        for ds in sorted({str(a), str(b)}):
            if ds not in sentence:
                p.append(f"{where}: sentence does not state its window day {ds}")
        k = re.search(r"\((\d+)-day window of observed days", sentence)
        if k and not median:
            n_days, span = int(k.group(1)), (b - a).days + 1
            with_rows = {_day(r["t_start"]) for r in counted}
            if not len(with_rows) <= n_days <= span:
                p.append(f"{where}: {n_days} observed days cannot hold rows of {len(with_rows)} days in {span}")
        rest = sentence.replace(s.label, " ", 1)
        for pat in _SET_ASIDE:
            rest = re.sub(pat, " ", rest)
        stray = [n for n in _NUMBER.findall(rest) if n != _fmt(value)]
        if stray:
            p.append(f"{where}: sentence states {', '.join(stray)}, which its rows do not give")
        m = re.search(r"\(by type: ([^)]*)\)", sentence)
        if m:
            stated = {k: float(v) for v, k in (x.split(" ", 1) for x in m.group(1).split(", "))}
            got_split = _split(counted)
            if stated != got_split:
                p.append(f"{where}: by-type split {stated} is not that of the cited rows {got_split}")
            if abs(sum(stated.values()) - value) > 1e-9:
                p.append(f"{where}: by-type split adds to {_fmt(sum(stated.values()))}, not {_fmt(value)}")
    elif value is not None:
        p.append(f"{where}: no sentence")
    return p


def check_series(series: Series, rows_by_id: Mapping[str, Row]) -> list[str]:
    """Problems with the footnotes of ``series`` (empty when every stated number is backed).

    For the sentence and the peak, trough and shift sentences: the window is set (one day for
    a level); every cited row exists, is of the series' ``kinds`` (or coverage, backing a zero)
    and lies in the window; the value is recomputed from the cited rows alone (sum: rows
    counted; level: the rows' values of one scene / report, or distinct vessels of the
    episodes overlapping the day; shift: the median of the per-day values); the sentence
    states that value first, states only dates inside its window, and a by-type split that
    is the cited rows' and adds up to the value.
    """
    s = series
    p: list[str] = []
    if s.status != "observed":
        if s.value is not None or s.evidence:
            p.append(f"{s.name}: not observed but states {s.value} with {len(s.evidence)} rows")
        return p
    p += _check_claim(s, "sentence", s.value, s.window_from, s.window_to, s.evidence, s.sentence, rows_by_id)
    if s.breakdown and abs(sum(s.breakdown.values()) - float(s.value or 0.0)) > 1e-9:
        p.append(f"{s.name}: breakdown {s.breakdown} does not add to {_fmt(s.value)}")
    if s.breakdown and s.breakdown != _split(rows_by_id[i] for i in s.evidence if i in rows_by_id):
        p.append(f"{s.name}: breakdown is not that of the cited rows")
    if s.peak_score is not None:
        p += _check_claim(s, "peak", s.peak_value, s.peak_window_from, s.peak_window_to, s.peak_evidence,
                          s.peak_sentence, rows_by_id)
    if s.trough_score is not None:
        p += _check_claim(s, "trough", s.trough_value, s.trough_window_from, s.trough_window_to,
                          s.trough_evidence, s.trough_sentence, rows_by_id)
    if s.shift_day is not None:
        p += _check_claim(s, "shift", s.shift_after, s.shift_window_from, s.shift_window_to, s.shift_evidence,
                          s.shift_sentence, rows_by_id, median=True)
    for bad in ("(previous", "; peak", "; low ", "; level shift", "last evidence on"):
        if bad in s.sentence:
            p.append(f"{s.name}: sentence carries {bad!r}, whose numbers are not in its evidence")
    return p
