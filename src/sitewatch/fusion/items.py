"""Evidence items: what the competing-hypotheses model reads, one discrete observation each.

Contract: :data:`ITEMS` is the catalogue (filled by :func:`item`); :func:`observe` turns a
site's indicator series and evidence rows, as of a time, into one :class:`Observation` per
item that applies to the site's kind. An observation has a *state* (``up``/``usual``/``down``
for an indicator against its own baseline; ``seen``/``none`` or ``holding``/``left``/``none``
for key events), a *reliability* 0..1 and a :class:`Claim`-backed sentence whose footnotes
are exactly the rows the stated numbers are computed from.

Two kinds of item:

* **indicator items** read one daily series (:mod:`sitewatch.fusion.indicators`): ``up`` when
  the current window or a reading of the last :data:`~sitewatch.fusion.indicators.RECENT_DAYS`
  days scores at or above :data:`UP` robust standard deviations, ``down`` at or below
  ``-UP``, ``usual`` otherwise; no baseline yet → not used.
* **key-event items** read evidence rows directly: a heavy military transport's dark visit
  near the site, warships leaving the port and holding offshore (ongoing episodes count),
  vehicles staged while heavy transports are on the ground.

Reliability (how far the state is taken at face value; the rest of the time the item is
treated as saying nothing) = (0.5 + 0.5 × mean confidence of the cited rows) × freshness,
freshness = 0.5 ** (max(0, age − fresh days) / half-life days), age = days from the end of
the item's window to the as-of day. Below :data:`MIN_FRESHNESS` the item is *stale* and not
used: old evidence does not speak for today.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sitewatch.fusion import indicators as IND
from sitewatch.sites import Site

Row = Mapping[str, Any]

UP = 2.5  # robust standard deviations from which an indicator reads "up" ("down" at -UP)
SHIFT = 3.5  # a level shift of the last two weeks at least this strong (its t statistic) reads up/down
KEY_DAYS = 14  # key events of the last two weeks bear on the judgement
HOLDING_DAYS = 3  # a loitering episode overlapping the last 3 days is "holding" now
MIN_DARK_CONFIDENCE = 0.5  # dark visits rated at least "likely" by the dark-visit analysis
MIN_FRESHNESS = 0.1
# per sensor: (days fresh, half-life in days) for the freshness of an item
AGING = {"adsb": (2.0, 3.0), "ais": (2.0, 3.0), "imagery": (7.0, 7.0), "analyst": (7.0, 7.0)}


@dataclass
class Claim:
    """One number a sentence states, and how to recompute it from the cited rows:
    ``agg`` of the rows of ``kinds`` whose time lies in [t_from, t_to) (``overlap``: whose
    interval overlaps it — ongoing episodes). ``stated`` claims appear in the text;
    unstated ones only say why rows are cited (a judgement citing an item's rows)."""

    value: float
    agg: str  # count | sum | distinct (distinct subjects) | median_daily (median of the days' values)
    kinds: list[str]
    t_from: datetime
    t_to: datetime
    what: str
    overlap: bool = False
    stated: bool = True
    zero_basis: list[str] = field(default_factory=list)  # coverage kinds that make a zero a zero
    daily: str = ""  # median_daily: how one day's value is made (count | sum | distinct)

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "agg": self.agg, "kinds": self.kinds, "t_from": self.t_from,
                "t_to": self.t_to, "what": self.what, "overlap": self.overlap, "stated": self.stated,
                "zero_basis": self.zero_basis, "daily": self.daily}


@dataclass
class Observation:
    """One item as observed at a site: its state, reliability and footnoted sentence."""

    item: str
    label: str
    sensor: str
    state: str | None  # None: not observed / no baseline / stale
    status: str  # observed | not observed | no baseline | stale
    reliability: float
    text: str
    evidence: list[str]
    claims: list[Claim]
    score: float | None = None
    series: str = ""
    last_day: date | None = None
    freshness: float = 1.0
    note: str = ""


@dataclass(frozen=True)
class ItemDef:
    name: str
    label: str
    sensor: str
    states: tuple[str, ...]
    site_kinds: tuple[str, ...]
    ask: str  # how to observe it next (for "what would best separate")
    state_words: Mapping[str, str]
    observe: Callable[[ItemContext], Observation]
    group: str = ""  # items of one group watch one thing (vehicles, port traffic …): correlated


@dataclass
class ItemContext:
    site: Site
    as_of: datetime
    series: Mapping[str, IND.Series]
    rows: Sequence[Row]
    by_id: Mapping[str, Row]
    coverage: Mapping[str, set[date]]  # sensor -> days it saw the area
    coverage_ids: Mapping[tuple[str, date], list[str]]


ITEMS: dict[str, ItemDef] = {}
LEVEL_STATES = ("up", "burst", "usual", "down")
NULL_STATES = frozenset({"usual", "none", "not staged", "balanced"})  # "nothing out of the ordinary"
ALL_KINDS = ("airbase", "port", "depot", "other")
AIR_KINDS = ("airbase", "depot", "other")
SEA_KINDS = ("port", "other")


def item(name: str, label: str, sensor: str, states: tuple[str, ...], site_kinds: tuple[str, ...], ask: str,
         state_words: Mapping[str, str], group: str = "") -> Callable[[Callable[[ItemContext], Observation]],
                                                                      Callable[[ItemContext], Observation]]:
    def deco(fn: Callable[[ItemContext], Observation]) -> Callable[[ItemContext], Observation]:
        ITEMS[name] = ItemDef(name, label, sensor, states, site_kinds, ask, dict(state_words), fn, group or name)
        return fn

    return deco


# -- helpers -----------------------------------------------------------------------------

def _t0(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def _day(t: datetime) -> date:
    return t.astimezone(UTC).date()


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def freshness(sensor: str, last_day: date | None, as_of: datetime) -> float:
    """How much an item whose evidence ends on ``last_day`` still says at ``as_of``."""
    if last_day is None:
        return 0.0
    fresh, half = AGING.get(sensor, (7.0, 7.0))
    age = (_day(as_of - timedelta(microseconds=1)) - last_day).days
    return float(0.5 ** (max(0.0, age - fresh) / half))


def _reliability(ctx: ItemContext, ids: Iterable[str], sensor: str, last_day: date | None,
                 floor: float = 0.0) -> tuple[float, float]:
    confs = [float(ctx.by_id[i]["confidence"]) for i in ids if i in ctx.by_id]
    q = sum(confs) / len(confs) if confs else 0.8
    f = freshness(sensor, last_day, ctx.as_of)
    return max(floor, 0.5 + 0.5 * q) * f, f


def _unobserved(d: ItemDef, status: str, text: str, last_day: date | None = None, series: str = "",
                freshness_: float = 0.0) -> Observation:
    return Observation(d.name, d.label, d.sensor, None, status, 0.0, text, [], [], None, series, last_day,
                       freshness_)


def _finish(d: ItemDef, ctx: ItemContext, obs: Observation) -> Observation:
    """Apply staleness: an item whose evidence is too old is not used."""
    if obs.state is not None and obs.freshness < MIN_FRESHNESS:
        obs.status, obs.state, obs.reliability = "stale", None, 0.0
        obs.text += (f" — stale: its latest evidence is from {obs.last_day}, too old to speak for "
                     f"{_day(ctx.as_of - timedelta(microseconds=1))}")
    return obs


# -- indicator items ----------------------------------------------------------------------

def _window_claim(s: IND.Series, value: float, d0: date, d1: date, stated: bool = True) -> Claim:
    kinds = list(getattr(s, "kinds", []) or [])
    zero = ["air.coverage"] if s.sensor == "adsb" else ["sea.coverage"] if s.sensor == "ais" else []
    agg = "count" if s.aggregate == "sum" else "sum"
    overlap = s.aggregate == "level" and any(k in ("sea.port-visit", "sea.loitering") for k in kinds)
    if overlap:
        agg = "distinct"
    return Claim(float(value), agg, kinds, _t0(d0), _t0(d1) + timedelta(days=1), s.label, overlap, stated, zero)


def _series_text(s: IND.Series, value: float, d0: date, d1: date, med: float | None, n: int,
                 score: float | None) -> str:
    when = f"on {d0}" if d0 == d1 else f"from {d0} to {d1}"
    unit = " a day" if s.aggregate == "sum" else ""
    base = (f" (baseline: median {_fmt(med)}{unit} over {n} earlier observed days; score {score:+.1f})"
            if med is not None and score is not None else "")
    return f"{s.label}: {_fmt(value)} {when}{base}"


def indicator_observation(d: ItemDef, ctx: ItemContext, name: str) -> Observation:
    """The state of indicator series ``name`` (the site-wide one)."""
    s = ctx.series.get(name)
    if s is None or s.status != "observed":
        why = s.sentence if s is not None else f"{d.label}: not observed"
        return _unobserved(d, "not observed", why, series=name)
    if s.score is None and s.peak_score is None:
        return _unobserved(d, "no baseline", s.sentence, s.value_day, name)
    cur = s.score if s.score is not None else 0.0
    pick = "current"
    shift_t = getattr(s, "shift_t", None)
    shift_day = getattr(s, "shift_day", None)
    recent_shift = (shift_t is not None and shift_day is not None and abs(shift_t) >= SHIFT
                    and (_day(ctx.as_of - timedelta(microseconds=1)) - shift_day).days < IND.RECENT_DAYS
                    and getattr(s, "shift_evidence", None) is not None)
    peak = s.peak_score is not None and s.peak_score >= UP and getattr(s, "peak_evidence", None) is not None
    trough = (s.trough_score is not None and s.trough_score <= -UP
              and getattr(s, "trough_evidence", None) is not None)
    # a level shift down right after a burst is the burst ending, not the series falling below
    # its usual range (its "before" level is the burst): the burst is the reading; likewise up
    if recent_shift and (((shift_t or 0.0) < 0 and peak) or ((shift_t or 0.0) > 0 and trough)):
        recent_shift = False
    if cur >= UP:
        state = "up"
    elif cur <= -UP:
        state = "down"
    elif recent_shift:
        state, pick = ("up" if (shift_t or 0.0) > 0 else "down"), "shift"
    elif peak:
        state, pick = "burst", "peak"  # above its range within the last two weeks, not now
    elif trough:
        state, pick = "down", "trough"
    else:
        state = "usual"
    if pick == "current":
        d0 = getattr(s, "window_from", None) or s.value_day
        d1 = getattr(s, "window_to", None) or s.value_day
        value, ev, score, med, n = s.value, list(s.evidence), s.score, s.baseline_median, s.baseline_n
    elif pick == "shift":
        d0, d1 = s.shift_window_from, s.shift_window_to
        value, ev, score = s.shift_after, list(s.shift_evidence), shift_t
        med, n = s.shift_before, 0
    else:
        d0 = getattr(s, f"{pick}_window_from")
        d1 = getattr(s, f"{pick}_window_to")
        value = getattr(s, f"{pick}_value")
        ev = list(getattr(s, f"{pick}_evidence"))
        score = s.peak_score if pick == "peak" else s.trough_score
        med, n = getattr(s, f"{pick}_baseline_median", None), getattr(s, f"{pick}_baseline_n", 0)
    if d0 is None or d1 is None or value is None:
        return _unobserved(d, "not observed", s.sentence, series=name)
    if pick == "shift":
        unit = " a day" if s.aggregate == "sum" else ""
        text = (f"{s.label}: level shift on {shift_day}: median {_fmt(float(value))}{unit} over the observed days "
                f"from {d0} to {d1} (baseline: median {_fmt(med)}{unit} before; shift statistic {score:+.1f})")
        claim = _window_claim(s, float(value), d0, d1)
        claim.agg, claim.daily = "median_daily", claim.agg
    else:
        text = _series_text(s, float(value), d0, d1, med, int(n or 0), score)
        claim = _window_claim(s, float(value), d0, d1)
    if pick in ("peak", "trough"):
        text += f"; within the last {IND.RECENT_DAYS} days"
    text += f" → {d.state_words[state]}"
    if state == "usual" and pick == "current" and med is not None and abs(float(value) - med) >= max(2.0, med / 2):
        # "0 against a usual 4 → as usual" reads as a contradiction: say why it is not a change
        text += (f" (the {'rise' if float(value) > med else 'fall'} from the baseline is within the spread of the "
                 "earlier observed days)")
    # freshness is about the sensor still watching: its last observed day, not the reading's
    seen = [x.day for x in s.days if x.value is not None]
    rel, f = _reliability(ctx, ev, d.sensor, max(seen) if seen else d1)
    obs = Observation(d.name, d.label, d.sensor, state, "observed", rel, text, ev, [claim], score, name, d1, f)
    return _finish(d, ctx, obs)


_LEVEL_WORDS = {"up": "above its usual range", "usual": "within its usual range", "down": "below its usual range"}
BURST_WORDS = "a burst within the last two weeks, over by now"


def _register_indicator(name: str, series: str | tuple[str, ...], label: str, sensor: str, kinds: tuple[str, ...],
                        ask: str, words: Mapping[str, str] | None = None, group: str = "") -> None:
    """An item reading one series, or the most telling of near-duplicate series (arrivals and
    departures of the same airlift: counted once, never as two independent items)."""
    names = (series,) if isinstance(series, str) else series

    def fn(ctx: ItemContext) -> Observation:
        obs = [indicator_observation(ITEMS[name], ctx, n) for n in names]
        used = [o for o in obs if o.state is not None]
        if not used:
            return obs[0]
        strong = [o for o in used if o.state not in ("usual", "burst")] or [o for o in used if o.state == "burst"]
        return max(strong, key=lambda o: abs(o.score or 0.0)) if strong else used[0]

    item(name, label, sensor, LEVEL_STATES, kinds, ask, {"burst": BURST_WORDS, **(words or _LEVEL_WORDS)}, group)(fn)


_register_indicator("airlift", ("heavy_departures", "heavy_arrivals"), "heavy airlift", "adsb", AIR_KINDS,
                    "ADS-B/Mode S of the base's approaches and departures (An-124, Il-76, C-17 …)",
                    {"up": "an airlift surge", "usual": "airlift at its usual rate", "down": "less airlift than usual"}, group="air traffic")
_register_indicator("military_flying", "military_other", "military aircraft flying other than heavy transports", "adsb",
                    AIR_KINDS, "ADS-B/Mode S of military movements at the base (fighters, helicopters, patrols)",
                    {"up": "more military flying than usual", "usual": "military flying as usual",
                     "down": "less military flying than usual"}, group="air traffic")
_register_indicator("passenger_lift", "passenger_flights", "passenger and VIP arrivals", "adsb", AIR_KINDS,
                    "ADS-B/Mode S of airliner and government airframes at the base (Tu-154, Il-62, Tu-214, A319 …)",
                    {"up": "more passenger flights than usual (people flown in or out)",
                     "usual": "passenger flights as usual", "down": "fewer passenger flights than usual"},
                    group="passenger")
_register_indicator("passenger_sailings", ("passenger_departures", "passenger_newcomers"),
                    "passenger ship departures (AIS)", "ais", SEA_KINDS,
                    "AIS of passenger ships and ferries (ship type 60–69) leaving the port",
                    {"up": "more passenger ships leaving than usual, or ships not on the schedule (people sailing)",
                     "usual": "passenger sailings as usual", "down": "fewer passenger sailings than usual"},
                    group="port traffic")
_register_indicator("aircraft_on_ground", "aircraft_on_ground", "aircraft on the ground (imagery)", "imagery",
                    ("airbase", "other"), "fresh high-resolution imagery of the apron",
                    {"up": "more aircraft on the ground than usual", "usual": "aircraft on the ground as usual",
                     "down": "fewer aircraft on the ground than usual"}, group="aircraft")
_register_indicator("vehicles", "vehicles", "vehicles (imagery)", "imagery", ALL_KINDS,
                    "fresh high-resolution imagery of the vehicle parks (are vehicles leaving or arriving?)",
                    {"up": "vehicles massing", "usual": "vehicle numbers as usual", "down": "fewer vehicles than usual"}, group="vehicles")
_register_indicator("ships_imaged", "ships_imaged", "ships on imagery", "imagery", SEA_KINDS,
                    "imagery of the quays", {"up": "more ships alongside than usual",
                                             "usual": "ships alongside as usual", "down": "fewer ships alongside"}, group="ships in port")
_register_indicator("vessel_departures", "other_departures",
                    "vessel departures other than passenger and naval ships (AIS)", "ais", SEA_KINDS,
                    "AIS of the port's approaches",
                    {"up": "more ships leaving than usual", "usual": "departures as usual",
                     "down": "fewer departures than usual"}, group="port traffic")
_register_indicator("sealift", "naval_calls", "naval and government ships calling (AIS)", "ais", SEA_KINDS,
                    "AIS of the port's approaches (which naval auxiliaries, landing ships and chartered cargo ships "
                    "call, and do they sail laden?)",
                    {"up": "more naval and government ships calling than usual (coming to load or unload)",
                     "usual": "naval and government ships calling as usual",
                     "down": "fewer naval and government ships calling than usual"}, group="port traffic")
_register_indicator("ships_in_port", "ships_at_quay", "ships in port (AIS)", "ais", SEA_KINDS,
                    "AIS of the port", {"up": "more ships in port than usual", "usual": "ships in port as usual",
                                        "down": "fewer ships in port than usual"}, group="ships in port")
_register_indicator("vehicles_reported", "vehicles_reported", "vehicles reported by analysts", "analyst", ALL_KINDS,
                    "a published analyst reading of recent imagery of the vehicle parks",
                    {"up": "analysts report more vehicles than usual", "usual": "analysts report usual numbers",
                     "down": "analysts report fewer vehicles"}, group="vehicles")
_register_indicator("aircraft_reported", "aircraft_reported", "aircraft reported by analysts", "analyst",
                    ("airbase", "other"), "a published analyst reading of recent imagery of the apron",
                    {"up": "analysts report more aircraft than usual", "usual": "analysts report usual numbers",
                     "down": "analysts report fewer aircraft"}, group="aircraft")
_register_indicator("ships_reported", "ships_reported", "ships reported by analysts", "analyst", SEA_KINDS,
                    "a published analyst reading of recent imagery of the quays",
                    {"up": "analysts report more ships than usual", "usual": "analysts report usual numbers",
                     "down": "analysts report fewer ships alongside"}, group="ships in port")


# -- key-event items ----------------------------------------------------------------------

def _recent(ctx: ItemContext, days: int) -> tuple[datetime, datetime]:
    end = _t0(_day(ctx.as_of - timedelta(microseconds=1))) + timedelta(days=1)
    return end - timedelta(days=days), min(end, ctx.as_of) if ctx.as_of < end else end


def _covered(ctx: ItemContext, sensor: str, t0: datetime, t1: datetime) -> list[date]:
    return sorted(d for d in ctx.coverage.get(sensor, set()) if t0 <= _t0(d) < t1)


def _coverage_cites(ctx: ItemContext, sensor: str, days: Sequence[date]) -> list[str]:
    out: list[str] = []
    for d in days:
        out += ctx.coverage_ids.get((sensor, d), [])
    return out


def _coverage_claim(sensor: str, n: int, t0: datetime, t1: datetime) -> Claim:
    kind = "air.coverage" if sensor == "adsb" else "sea.coverage"
    return Claim(float(n), "count", [kind], t0, t1, f"days {sensor.upper()} saw the area")


@item("dark_transport", "heavy transport dark visit", "adsb", ("seen", "none"), AIR_KINDS,
      "ADS-B/Mode S and multilateration of the coast near the base (transports switching off their transponders)",
      {"seen": "a heavy military transport went dark near the site and reappeared",
       "none": "no heavy transport went dark near the site"}, "dark transports")
def _dark_transport(ctx: ItemContext) -> Observation:
    d = ITEMS["dark_transport"]
    t0, t1 = _recent(ctx, KEY_DAYS)
    hits = [r for r in ctx.rows if r["kind"] == "air.dark-visit" and t0 <= r["t_start"] < t1
            and bool((r["ref"] or {}).get("heavy")) and bool((r["ref"] or {}).get("military", True))
            and float(r["confidence"]) >= MIN_DARK_CONFIDENCE]
    covered = _covered(ctx, "adsb", t0, t1)
    window = f"{_day(t0)} to {_day(t1 - timedelta(days=1))}"
    if hits:
        hits.sort(key=lambda r: -float(r["confidence"]))
        ids = [r["evidence_id"] for r in hits]
        names = "; ".join(str(r["text"]) for r in hits[:2])
        text = (f"heavy military transport dark visits near the site from {window}: {len(hits)} "
                f"(rated at least likely) — {names} → {d.state_words['seen']}")
        last = max(_day(r["t_end"] or r["t_start"]) for r in hits)
        q = max(float(r["confidence"]) for r in hits)
        # freshness: is ADS-B still watching (its last covered day), not how old the visit is
        f = freshness("adsb", max([last, *covered]), ctx.as_of)
        obs = Observation(d.name, d.label, d.sensor, "seen", "observed", (0.5 + 0.5 * q) * f, text, ids,
                          [Claim(float(len(hits)), "count", ["air.dark-visit"], t0, t1, d.label)], None, "", last, f)
        return _finish(d, ctx, obs)
    if len(covered) < KEY_DAYS // 2:
        return _unobserved(d, "not observed", f"{d.label}: ADS-B saw the area on only {len(covered)} of the "
                           f"{KEY_DAYS} days to {_day(t1 - timedelta(days=1))}", covered[-1] if covered else None)
    ids = _coverage_cites(ctx, "adsb", covered)
    text = (f"heavy military transport dark visits near the site from {window}: 0 "
            f"(ADS-B saw the area on {len(covered)} of those days)")
    rel, f = _reliability(ctx, ids, "adsb", covered[-1])
    obs = Observation(d.name, d.label, d.sensor, "none", "observed", rel * 0.8, text, ids,
                      [Claim(0.0, "count", ["air.dark-visit"], t0, t1, d.label, zero_basis=["air.coverage"]),
                       _coverage_claim("adsb", len(covered), t0, t1)],
                      None, "", covered[-1], f)
    return _finish(d, ctx, obs)


NET_FLOW_MIN = 3  # airframes: a net flow of at least this many, and twice the other way, reads in/out


@item("aircraft_flow", "military aircraft arriving to stay or leaving for good", "adsb", ("in", "balanced", "out"),
      AIR_KINDS, "ADS-B/Mode S of every military arrival and departure at the base over two weeks",
      {"in": "military aircraft arrived and stayed (more based aircraft)",
       "balanced": "military aircraft came and went as usual (sorties out and back)",
       "out": "military aircraft left and did not come back"}, "aircraft")
def _aircraft_flow(ctx: ItemContext) -> Observation:
    """Direction of movement: per airframe (other than the heavy transports, whose shuttles
    the airlift item reads), arrivals minus departures over the last two weeks, capped at one
    either way. Based aircraft fly sorties out and back, so they net to zero; airframes that
    arrive to be based (reinforcement) or leave for good (withdrawal) do not."""
    d = ITEMS["aircraft_flow"]
    t0, t1 = _recent(ctx, KEY_DAYS)
    mv = [r for r in ctx.rows if r["kind"] in ("air.arrival", "air.departure") and t0 <= r["t_start"] < t1
          and bool((r["ref"] or {}).get("military")) and not (r["ref"] or {}).get("heavy")
          and not (r["ref"] or {}).get("passenger")]
    per: dict[str, int] = {}
    for r in mv:
        k = IND.subject_key(r)
        per[k] = per.get(k, 0) + (1 if r["kind"] == "air.arrival" else -1)
    came = sorted(k for k, v in per.items() if v > 0)
    went = sorted(k for k, v in per.items() if v < 0)
    covered = _covered(ctx, "adsb", t0, t1)
    if len(covered) < KEY_DAYS // 2:
        return _unobserved(d, "not observed", f"{d.label}: ADS-B saw the area on only {len(covered)} of the "
                           f"{KEY_DAYS} days to {_day(t1 - timedelta(days=1))}", covered[-1] if covered else None)
    window = f"{_day(t0)} to {_day(t1 - timedelta(days=1))}"
    net = len(came) - len(went)
    if net >= NET_FLOW_MIN and len(came) >= 2 * len(went):
        state = "in"
    elif -net >= NET_FLOW_MIN and len(went) >= 2 * len(came):
        state = "out"
    else:
        state = "balanced"
    cs, ws = set(came), set(went)
    arr = [r for r in mv if r["kind"] == "air.arrival" and IND.subject_key(r) in cs]
    dep = [r for r in mv if r["kind"] == "air.departure" and IND.subject_key(r) in ws]
    ids = [r["evidence_id"] for r in sorted(arr + dep, key=lambda r: r["t_start"])]
    claims = [Claim(float(len(came)), "distinct", ["air.arrival"], t0, t1, "military aircraft that arrived and stayed"),
              Claim(float(len(went)), "distinct", ["air.departure"], t0, t1, "military aircraft that left for good")]
    ids += _coverage_cites(ctx, "adsb", covered)
    for c in claims:
        c.zero_basis = ["air.coverage"]
    claims.append(_coverage_claim("adsb", len(covered), t0, t1))
    text = (f"{d.label} from {window}: {len(came)} military aircraft (other than heavy transports) arrived and "
            f"had not left by the end, {len(went)} left and had not come back (ADS-B saw the area on "
            f"{len(covered)} of those days) → {d.state_words[state]}")
    last = max([_day(r["t_start"]) for r in arr + dep] + covered)
    rel, f = _reliability(ctx, [r["evidence_id"] for r in arr + dep], "adsb", covered[-1])
    obs = Observation(d.name, d.label, d.sensor, state, "observed", rel, text, ids, claims, float(net), "", last, f)
    return _finish(d, ctx, obs)


def _is_navy(r: Row) -> bool:
    return IND.is_naval(r["ref"])


@item("navy_offshore", "warships leaving and holding offshore", "ais", ("holding", "left", "returned", "none"),
      SEA_KINDS,
      "AIS of the waters offshore (are the warships coming back, going home, or holding?)",
      {"holding": "warships left and are holding offshore", "left": "warships left the port",
       "returned": "warships sailed together and came back (as in an exercise or a patrol)",
       "none": "no warships left together or are holding offshore"}, "navy")
def _navy_offshore(ctx: ItemContext) -> Observation:
    d = ITEMS["navy_offshore"]
    t0, t1 = _recent(ctx, KEY_DAYS)
    h0 = t1 - timedelta(days=HOLDING_DAYS)
    # a ship that called less than two weeks before it sails again came in to load or unload
    # (the sealift item reads it): not a warship leaving the port. A warship back from a long
    # deployment and in port for weeks since is one.
    calls: dict[str, list[datetime]] = {}
    for r in IND.naval_calls(ctx.rows):
        calls.setdefault(IND.subject_key(r), []).append(r["t_start"])

    def visiting(r: Row) -> bool:
        came = [t for t in calls.get(IND.subject_key(r), ()) if t < r["t_start"]]
        return bool(came) and r["t_start"] - max(came) < timedelta(days=KEY_DAYS)

    deps = [r for r in ctx.rows if r["kind"] == "sea.vessel-departure" and t0 <= r["t_start"] < t1 and _is_navy(r)
            and not visiting(r)]
    # holding: loitering in the last days by a warship not back in port since (one that held
    # offshore and came back in is a sortie's signature — an exercise's, a patrol's — not a hold)
    in_port: dict[str, list[datetime]] = {}
    for r in ctx.rows:
        if r["kind"] == "sea.port-visit" and r["t_start"] < t1:
            in_port.setdefault(str(r["subject"]), []).append(r["t_start"])
    hold = [r for r in ctx.rows if r["kind"] == "sea.loitering" and _is_navy(r) and r["t_start"] < t1
            and (r["t_end"] or r["t_start"]) >= h0
            and not any(t > r["t_start"] for t in in_port.get(str(r["subject"]), ()))]
    dep_ships = sorted({IND.subject_key(r) for r in deps})
    hold_ships = sorted({IND.subject_key(r) for r in hold})
    covered = _covered(ctx, "ais", t0, t1)
    span = f"{_day(t0)} to {_day(t1 - timedelta(days=1))}"
    # what is usual for this port: in a busy harbour, government craft (coast guard, police,
    # survey and pilot boats) leave and come back every day — on a real week of New York
    # harbour's AIS four of them read as "warships sailed together and came back", exercise
    # 0.65 —; at a naval base whose squadron stays alongside, warships leaving is the story.
    # The port's own history before the window tells them apart: a vessel that left on many
    # of its observed days is one of the port's regulars, and its departures now are its beat.
    regulars, n_hist = _navy_regulars(ctx, t0, visiting)
    beat = [r for r in deps if regulars and IND.subject_key(r) in regulars]
    if beat:
        deps = [r for r in deps if IND.subject_key(r) not in (regulars or set())]
        dep_ships = sorted({IND.subject_key(r) for r in deps})
    if regulars is None and len(dep_ships) >= 2 and not hold:
        return _unobserved(d, "not observed", f"{d.label}: {len(dep_ships)} warships/government vessels left "
                           f"the port from {span}; whether they are the port's own craft on their daily beat is "
                           f"not known yet (baseline: none yet, {n_hist} earlier observed days of the "
                           f"{IND.MIN_BASELINE['ais']} needed)", covered[-1] if covered else None)
    hspan = f"{_day(h0)} to {_day(t1 - timedelta(days=1))}"
    claims: list[Claim] = []
    parts: list[str] = []
    ids: list[str] = []
    if deps:
        names = ", ".join(sorted({str((r["ref"] or {}).get("vessel_name") or f"MMSI {r['subject']}") for r in deps}))
        ships = "warship/government vessel" if len(dep_ships) == 1 else "warships/government vessels"
        parts.append(f"{len(dep_ships)} {ships} left the port from {span} ({names})")
        claims.append(Claim(float(len(dep_ships)), "distinct", ["sea.vessel-departure"], t0, t1, "warships leaving"))
        ids += [r["evidence_id"] for r in sorted(deps, key=lambda r: r["t_start"])]
    if hold:
        parts.append(f"{len(hold_ships)} holding offshore from {hspan} (loitering offshore then, and not back in port "
                     "since)")
        claims.append(Claim(float(len(hold_ships)), "distinct", ["sea.loitering"], h0, t1, "warships holding offshore",
                            overlap=True))
        ids += [r["evidence_id"] for r in sorted(hold, key=lambda r: r["t_start"])]
    # warships back in port after they sailed: a port visit of the same ship that began after
    # its departure, within the window (what leaves and comes back vs what leaves and stays away)
    left_at: dict[str, datetime] = {}
    for r in deps:
        k = IND.subject_key(r)
        left_at[k] = min(left_at.get(k, r["t_start"]), r["t_start"])
    back = [r for r in ctx.rows if r["kind"] == "sea.port-visit" and str(r["subject"]) in left_at
            and left_at[str(r["subject"])] < r["t_start"] < t1]
    back_ships = sorted({str(r["subject"]) for r in back})
    if back and not hold:
        parts.append(f"{len(back_ships)} of them came back to the port ({span})")
        claims.append(Claim(float(len(back_ships)), "distinct", ["sea.port-visit"], t0, t1,
                            "warships back in port"))
        ids += [r["evidence_id"] for r in sorted(back, key=lambda r: r["t_start"])]
    if hold:
        state = "holding"
    elif len(dep_ships) >= 2 and 2 * len(back_ships) >= len(dep_ships):
        state = "returned"
    elif len(dep_ships) >= 2:
        state = "left"
    elif covered and len(covered) >= KEY_DAYS // 2 and not deps:
        state = "none"
    elif deps:
        state = "none"  # one warship sailing is ordinary port traffic
    else:
        return _unobserved(d, "not observed", f"{d.label}: AIS saw the area on {len(covered)} of the "
                           f"{KEY_DAYS} days to {_day(t1 - timedelta(days=1))}", covered[-1] if covered else None)
    if not parts:
        cov = _coverage_cites(ctx, "ais", covered)
        ids = cov
        other = " other than its regular craft" if beat else ""
        parts.append(f"0 warships{other} left the port or held offshore from {span} (AIS saw the area on "
                     f"{len(covered)} of those days)")
        claims.append(Claim(0.0, "count", ["sea.vessel-departure", "sea.loitering"], t0, t1, d.label,
                            zero_basis=["sea.coverage"]))
        claims.append(_coverage_claim("ais", len(covered), t0, t1))
    if beat:  # said, not cited: their departures are not evidence of anything here
        n_beat = len({IND.subject_key(r) for r in beat})
        parts.append(f"not counted: the port's regular government craft (baseline: {n_beat} that left in the window "
                     f"also left on at least 1 in 7 of the {n_hist} observed days before {_day(t0)}, and on "
                     f"{REGULAR_MIN_DAYS} or more)")
    last_rows = [_day(r["t_end"] or r["t_start"]) for r in deps + hold + back]
    last = min(max(last_rows), _day(t1 - timedelta(days=1))) if last_rows else (covered[-1] if covered else None)
    if hold:
        last = _day(t1 - timedelta(days=1)) if any(_day(r["t_end"] or r["t_start"]) >= _day(h0) for r in hold) else last
    q_ids = ids or []
    rel, f = _reliability(ctx, q_ids, "ais", max([x for x in (last, *covered) if x is not None], default=None))
    text = f"{d.label}: " + "; ".join(parts) + f" → {d.state_words[state]}"
    obs = Observation(d.name, d.label, d.sensor, state, "observed", rel, text, ids, claims, None, "", last, f)
    return _finish(d, ctx, obs)


REGULAR_MIN_DAYS = 3  # a vessel that left on at least this many of the observed days before the window ...
REGULAR_SHARE = 1 / 7  # ... and on at least this share of them (once a week) is one of the port's regulars


def _navy_regulars(ctx: ItemContext, t0: datetime, visiting: Callable[[Row], bool]) -> tuple[set[str] | None, int]:
    """The port's regular government craft: vessels that left it on at least
    :data:`REGULAR_MIN_DAYS` and :data:`REGULAR_SHARE` of the AIS-observed days before ``t0`` (up
    to ``IND.WINDOW_DAYS``), and how many days were observed. ``None`` when fewer than
    ``IND.MIN_BASELINE['ais']`` of those days were observed: then who is a regular is not known.
    A warship that sails on patrol a few times a season is not one."""
    h0 = t0 - timedelta(days=IND.WINDOW_DAYS)
    hist_days = _covered(ctx, "ais", h0, t0)
    if len(hist_days) < IND.MIN_BASELINE["ais"]:
        return None, len(hist_days)
    days_out: dict[str, set[date]] = {}
    for r in ctx.rows:
        if (r["kind"] == "sea.vessel-departure" and h0 <= r["t_start"] < t0 and _is_navy(r)
                and not visiting(r)):
            days_out.setdefault(IND.subject_key(r), set()).add(_day(r["t_start"]))
    need = max(REGULAR_MIN_DAYS, math.ceil(REGULAR_SHARE * len(hist_days)))
    return {k for k, v in days_out.items() if len(v) >= need}, len(hist_days)


@item("navy_nearby", "warships holding offshore near the site", "ais", ("holding", "none"), ("airbase", "depot"),
      "AIS of the waters off the coast near the site",
      {"holding": "warships are holding offshore near the site", "none": "no warships holding offshore nearby"},
      "port traffic")
def _navy_nearby(ctx: ItemContext) -> Observation:
    """For a site that is not a port: government/military vessels loitering within reach of
    it now (ongoing episodes overlapping the last days), e.g. a squadron that left a nearby
    port and holds offshore."""
    d = ITEMS["navy_nearby"]
    _t0, t1 = _recent(ctx, KEY_DAYS)
    h0 = t1 - timedelta(days=HOLDING_DAYS)
    hold = [r for r in ctx.rows if r["kind"] == "sea.loitering" and _is_navy(r) and r["t_start"] < t1
            and (r["t_end"] or r["t_start"]) >= h0]
    covered = _covered(ctx, "ais", h0, t1)
    hspan = f"{_day(h0)} to {_day(t1 - timedelta(days=1))}"
    if hold:
        ships = sorted({IND.subject_key(r) for r in hold})
        ids = [r["evidence_id"] for r in sorted(hold, key=lambda r: r["t_start"])]
        text = (f"{d.label}: {len(ships)} warships/government vessels loitering offshore from {hspan} (episodes "
                f"still under way) → {d.state_words['holding']}")
        rel, f = _reliability(ctx, ids, "ais", max([_day(t1 - timedelta(days=1)), *covered]))
        return _finish(d, ctx, Observation(d.name, d.label, d.sensor, "holding", "observed", rel, text, ids,
                                           [Claim(float(len(ships)), "distinct", ["sea.loitering"], h0, t1,
                                                  "warships holding offshore", overlap=True)], None, "",
                                           _day(t1 - timedelta(days=1)), f))
    if not covered:
        return _unobserved(d, "not observed", f"{d.label}: no AIS coverage near the site from {hspan}")
    ids = _coverage_cites(ctx, "ais", covered)
    text = (f"{d.label}: 0 warships loitering offshore from {hspan} (AIS saw the area on {len(covered)} of those "
            f"days) → {d.state_words['none']}")
    rel, f = _reliability(ctx, ids, "ais", covered[-1])
    return _finish(d, ctx, Observation(d.name, d.label, d.sensor, "none", "observed", rel * 0.8, text, ids,
                                       [Claim(0.0, "count", ["sea.loitering"], h0, t1, d.label,
                                              zero_basis=["sea.coverage"]),
                                        _coverage_claim("ais", len(covered), h0, t1)], None, "", covered[-1], f))


@item("staging", "vehicles staged while heavy transports are on the ground", "imagery", ("staged", "not staged"),
      AIR_KINDS, "imagery of the apron and vehicle parks on the day a heavy transport is on the ground",
      {"staged": "vehicles massed while heavy transports were at the base",
       "not staged": "no vehicles massed while heavy transports were at the base"}, "vehicles")
def _staging(ctx: ItemContext) -> Observation:
    d = ITEMS["staging"]
    s = ctx.series.get("vehicles")
    t0, t1 = _recent(ctx, KEY_DAYS)
    if s is None or s.status != "observed":
        return _unobserved(d, "not observed", f"{d.label}: no vehicle count on imagery")
    heavy_days: dict[date, list[str]] = {}
    for r in ctx.rows:
        if r["kind"] == "air.arrival" and bool((r["ref"] or {}).get("heavy")) and t0 - timedelta(days=1) <= r["t_start"] < t1:
            heavy_days.setdefault(_day(r["t_start"]), []).append(r["evidence_id"])
    scored = [x for x in s.days if x.value is not None and x.score is not None and t0 <= _t0(x.day) < t1]
    if not scored:
        return _unobserved(d, "no baseline" if any(x.value is not None for x in s.days) else "not observed",
                           f"{d.label}: no scored vehicle count in the last {KEY_DAYS} days")
    shift_t, shift_day = getattr(s, "shift_t", None), getattr(s, "shift_day", None)

    def massed(x: IND.Day) -> bool:
        # a high reading, or a reading after a recent rise in level (vehicles stay massed)
        return (x.score or 0.0) >= UP or (shift_t is not None and shift_day is not None and shift_t >= SHIFT
                                          and x.day >= shift_day)

    for x in sorted(scored, key=lambda x: -(x.value or 0.0)):
        arr = heavy_days.get(x.day, []) + heavy_days.get(x.day - timedelta(days=1), [])
        if massed(x) and arr:
            ids = list(x.evidence) + arr
            dd = x.day - timedelta(days=1)
            after = (f", after the rise in level on {shift_day}" if shift_day is not None and x.day >= shift_day
                     and (x.score or 0.0) < UP else "")
            text = (f"{d.label}: {_fmt(x.value)} vehicles on imagery on {x.day} (score {x.score:+.1f}{after}) with "
                    f"{len(arr)} heavy-transport arrivals from {dd} to {x.day}")
            rel, f = _reliability(ctx, list(x.evidence), "imagery", x.day)
            claims = [Claim(float(x.value or 0.0), "sum", ["imagery.count"], _t0(x.day), _t0(x.day) + timedelta(days=1),
                            "vehicles on imagery"),
                      Claim(float(len(arr)), "count", ["air.arrival"], _t0(dd), _t0(x.day) + timedelta(days=1),
                            "heavy-transport arrivals")]
            return _finish(d, ctx, Observation(d.name, d.label, d.sensor, "staged", "observed", rel, text + " → "
                                               + d.state_words["staged"], ids, claims, x.score, "vehicles", x.day, f))
    x = scored[-1]
    text = (f"{d.label}: {_fmt(x.value)} vehicles on imagery on {x.day} (score {x.score:+.1f}); vehicles did not "
            f"mass on a day with heavy-transport arrivals in the last {KEY_DAYS} days")
    rel, f = _reliability(ctx, list(x.evidence), "imagery", x.day)
    claims = [Claim(float(x.value or 0.0), "sum", ["imagery.count"], _t0(x.day), _t0(x.day) + timedelta(days=1),
                    "vehicles on imagery")]
    return _finish(d, ctx, Observation(d.name, d.label, d.sensor, "not staged", "observed", rel * 0.8,
                                       text + " → " + d.state_words["not staged"], list(x.evidence), claims,
                                       x.score, "vehicles", x.day, f))


# -- the facade ---------------------------------------------------------------------------

def applicable(kind: str) -> list[ItemDef]:
    return [d for d in ITEMS.values() if kind in d.site_kinds]


def observe(site: Site, series: Sequence[IND.Series], rows: Sequence[Row], coverage: Sequence[Row],
            as_of: datetime) -> list[Observation]:
    """One observation per item applicable to ``site``'s kind."""
    cov: dict[str, set[date]] = {}
    for c in coverage:
        if c["day"] < _day(as_of - timedelta(microseconds=1)) + timedelta(days=1):
            cov.setdefault(str(c["source"]), set()).add(c["day"])
    cids: dict[tuple[str, date], list[str]] = {}
    for r in rows:
        if str(r["kind"]).endswith(".coverage"):
            cids.setdefault((str(r["sensor"]), _day(r["t_start"])), []).append(r["evidence_id"])
    ctx = ItemContext(site, as_of, {s.name: s for s in series}, rows, {r["evidence_id"]: r for r in rows}, cov, cids)
    return [d.observe(ctx) for d in applicable(site.kind)]


def hellinger(p: Sequence[float], q: Sequence[float]) -> float:
    """Hellinger distance between two distributions over the same states (0..1)."""
    return math.sqrt(max(0.0, 1.0 - sum(math.sqrt(max(a, 0.0) * max(b, 0.0)) for a, b in zip(p, q, strict=True))))
