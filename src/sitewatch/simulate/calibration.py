"""Randomised scenarios for calibrating the hypothesis set: does a stated 70 % come true 70 % of the time?

Contract: :func:`scenario` draws one SIMULATED site history — a true hypothesis, a site kind,
75 days of evidence rows in the shape :mod:`sitewatch.fusion.evidence` writes (events,
imagery counts, analyst counts, coverage) — from a generative model of each hypothesis
written from the story, not from the hypothesis files: rates, multipliers and the chance of
each effect are drawn per run, timing varies (the story starts 3–12 days before the as-of
time), coverage has outages, imagery and analysts come irregularly, and routine histories
carry decoys (a rotation's airlift burst, a one-day exercise surge, a VIP visit, a vehicle
blip, one warship sailing and coming back, two supply ships calling at once); every port has
its routine supply runs. :func:`calibrate` draws the truth of each run at the rate the hypotheses'
priors give (a stated 70 % can only come true 70 % of the time in a world with those base
rates) and assesses ``runs`` such histories with the given hypotheses
through the real indicator, item and Bayes code and scores the result: top-1 accuracy,
multi-class Brier score (0 = perfect, 2 = worst) and a reliability table per probability bin.

The remainder hypothesis ``other`` is never the truth here: by definition it is what no
script foresees. Evidence is generated at the level of evidence rows (not raw ADS-B/AIS
files) so that hundreds of runs take seconds; the demo exercises the raw-file path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from sitewatch.fusion import assessment as A
from sitewatch.fusion import indicators as IND
from sitewatch.fusion import items as IT
from sitewatch.fusion.rules import Rule
from sitewatch.sites import Site, circle_site

TRUTHS = ("withdrawal", "reinforcement", "evacuation", "repositioning", "exercise", "routine")
KINDS = ("airbase", "port")
DAYS = 75
AS_OF = datetime(2024, 12, 21, tzinfo=UTC)
BINS = 10
SAMPLING_DRAWS = 2000  # outcome draws behind `sampling`'s pass chance (its own error ≈ ±0.01)


@dataclass
class Run:
    truth: str
    kind: str
    probabilities: dict[str, float]
    leader: str
    status: str
    story_days: int
    effects: list[str] = field(default_factory=list)


@dataclass
class _Gen:
    rng: np.random.Generator
    site: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    n: int = 0

    def add(self, kind: str, t: datetime, sensor: str, value: float | None = 1.0, ref: dict[str, Any] | None = None,
            t_end: datetime | None = None, confidence: float = 0.9, subject: str | None = None, text: str = "") -> None:
        self.n += 1
        self.rows.append({
            "evidence_id": f"sim:{self.n:06d}", "site": self.site, "t_start": t, "t_end": t_end or t, "kind": kind,
            "value": value, "text": text or f"SIMULATED {kind}", "sensor": sensor, "provider": "calibration",
            "file_sha256": None, "ref": ref or {}, "confidence": confidence, "simulated": True, "subject": subject,
            "lat": 0.0, "lon": 0.0})

    def u(self, a: float, b: float) -> float:
        return float(self.rng.uniform(a, b))

    def p(self, prob: float) -> bool:
        return bool(self.rng.random() < prob)


def _t(d: date, hour: float) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(hours=hour)


def scenario(rng: np.random.Generator, truth: str, kind: str, as_of: datetime = AS_OF
             ) -> tuple[Site, list[dict[str, Any]], list[dict[str, Any]], int, list[str]]:
    """(site, evidence rows, coverage days, story length in days, effects drawn) of one run."""
    site = circle_site("calib", kind, 35.0, 36.0)
    g = _Gen(rng, site.name)
    last = (as_of - timedelta(microseconds=1)).date()
    days = [last - timedelta(days=i) for i in range(DAYS - 1, -1, -1)]
    story = int(rng.integers(3, 13))
    s0 = days[-story]
    effects: list[str] = []
    fx = _effects(g, truth, kind, effects)
    fx["a0"] = g.u(2, 15)  # aircraft usually on the apron (imagery counts them; ADS-B sees them come and go)
    adsb = _coverage(g, days, "adsb", 0.97 if kind == "airbase" else 0.0)
    ais = _coverage(g, days, "ais", 0.97 if kind == "port" else (0.6 if g.p(0.5) else 0.0))
    if kind == "airbase":
        _air(g, days, s0, adsb, fx)
    if ais:
        _sea(g, days, s0, ais, fx, kind)
    _imagery(g, days, s0, fx, kind)
    return site, g.rows, g.coverage, story, effects


def _coverage(g: _Gen, days: Sequence[date], sensor: str, p_daily: float) -> set[date]:
    if p_daily <= 0.0:
        return set()
    seen = {d for d in days if g.p(p_daily)}
    if g.p(0.4):  # an outage of a few days, anywhere (the story period included)
        k = int(g.rng.integers(0, len(days)))
        for d in days[k:k + int(g.rng.integers(2, 6))]:
            seen.discard(d)
    for d in sorted(seen):
        g.coverage.append({"source": sensor, "day": d, "n": 1000, "n_ids": 20})
        g.add(f"{'air' if sensor == 'adsb' else 'sea'}.coverage", _t(d, 0), sensor, 1000.0, {"day": str(d)},
              _t(d, 24), 1.0)
    return seen


def _effects(g: _Gen, truth: str, kind: str, effects: list[str]) -> dict[str, float]:
    """Multipliers and chances of the story's effects under the true hypothesis."""
    f: dict[str, float] = {"airlift": 1.0, "mil": 1.0, "dark": 0.0, "veh": 1.0, "veh_fall": 1.0, "acft": 0.0,
                           "navy_leave": 0.0, "navy_hold": 0.0, "navy_return": 0.0, "deps": 1.0, "ships": 1.0,
                           "pax": 1.0, "pax_ships": 0.0, "sealift": 0.0, "burst_days": 0.0}

    def maybe(name: str, prob: float, key: str, value: float) -> None:
        if g.p(prob):
            f[key] = value
            effects.append(name)

    # the main signature of each hypothesis is nearly always there (an episode worth assessing)
    # — the one the kind of site shows: a port's exercise is warships sailing, its build-up
    # ships bringing it, its evacuation passenger ships; an air base's are in the air —; the
    # secondary ones come and go, and their size varies run to run
    port = kind == "port"
    if truth == "withdrawal":
        maybe("airlift surge", 0.95, "airlift", g.u(4, 8))
        maybe("more flying", 0.5, "mil", g.u(1.2, 2))
        maybe("transports go dark", 0.6, "dark", g.u(1.0, 3.0))
        maybe("vehicles staged", 0.8, "veh", g.u(1.8, 3.5))
        maybe("vehicles flown out", 0.35, "veh_fall", g.u(0.3, 0.7))
        maybe("combat aircraft leave", 0.5, "acft", -g.u(0.3, 0.7))
        maybe("warships leave", 0.9, "navy_leave", 1.0)
        maybe("warships hold offshore", 0.65, "navy_hold", 1.0)
        maybe("ships come in to load", 0.85, "sealift", g.u(2, 5))
        maybe("more departures", 0.6, "deps", g.u(2, 4))
        maybe("fewer ships in port", 0.7, "ships", g.u(0.3, 0.6))
        maybe("personnel flown out too", 0.3, "pax", g.u(1.5, 3))
    elif truth == "reinforcement":
        maybe("airlift surge", 0.95, "airlift", g.u(4, 8))
        maybe("combat aircraft arrive", 0.7, "mil", g.u(1.5, 3))
        maybe("transports go dark", 0.2, "dark", g.u(0.5, 1.5))
        maybe("vehicles arrive", 0.8, "veh", g.u(1.8, 3.5))
        maybe("more aircraft based", 0.75, "acft", g.u(0.5, 1.2))
        maybe("more ships in port", 0.95 if port else 0.75, "ships", g.u(1.5, 2.5))
        maybe("ships bring equipment", 0.6, "sealift", g.u(2, 4))
        maybe("personnel flown in", 0.2, "pax", g.u(1.5, 3))
    elif truth == "evacuation":
        # people, not equipment: airliners and VIP airframes, passenger ships and ferries
        maybe("personnel flown out", 0.85 if port else 0.95, "pax", g.u(4, 8))
        maybe("passenger ships sail", 0.95 if port else 0.8, "pax_ships", g.u(2, 6))
        maybe("airlift surge", 0.5, "airlift", g.u(2, 4))
        maybe("more flying", 0.5, "mil", g.u(1.2, 2))
        maybe("transports go dark", 0.3, "dark", g.u(0.5, 1.5))
        maybe("fewer aircraft", 0.3, "acft", -g.u(0.2, 0.5))
        maybe("more departures", 0.5, "deps", g.u(1.5, 3))
        maybe("warships leave", 0.5, "navy_leave", 1.0)
        maybe("warships hold offshore", 0.2, "navy_hold", 1.0)
        maybe("landing ships take people off", 0.2, "sealift", g.u(1, 2))
        maybe("fewer ships in port", 0.6, "ships", g.u(0.35, 0.7))
    elif truth == "repositioning":
        maybe("some more airlift", 0.3, "airlift", g.u(1.2, 2.0))
        maybe("transports go dark", 0.1, "dark", g.u(0.5, 1.0))
        maybe("forces pulled back to the base", 0.9, "veh", g.u(1.8, 3.5))
        maybe("aircraft pulled back", 0.4, "acft", g.u(0.3, 0.7))
        maybe("warships leave", 0.85, "navy_leave", 1.0)
        maybe("warships hold offshore", 0.85, "navy_hold", 1.0)
        maybe("a supply ship calls", 0.1, "sealift", 1.0)
        maybe("more departures", 0.5, "deps", g.u(1.5, 2.5))
        maybe("fewer ships in port", 0.7, "ships", g.u(0.3, 0.6))
    elif truth == "exercise":
        maybe("flying surge", 0.95, "mil", g.u(3, 6))
        maybe("some airlift", 0.4, "airlift", g.u(1.3, 2.5))
        maybe("visiting aircraft", 0.6, "acft", g.u(0.4, 1.0))
        maybe("vehicles out", 0.3, "veh", g.u(1.2, 2.0))
        maybe("warships sail", 0.95 if port else 0.7, "navy_leave", 1.0)
        maybe("warships exercise offshore", 0.6, "navy_hold", 1.0)
        maybe("warships come back", 0.7, "navy_return", 1.0)
        maybe("landing ships embark troops", 0.15, "sealift", g.u(1, 2))
        maybe("more departures", 0.6, "deps", g.u(2, 3.5))
    elif truth == "routine" and g.p(0.5):  # routine, with a decoy half the time
        decoy = str(g.rng.choice(["rotation airlift", "one-day exercise", "vehicle blip", "one warship sails",
                                  "a VIP visit", "two supply ships at once"]))
        effects.append(f"decoy: {decoy}")
        if decoy == "rotation airlift":
            f["airlift"], f["burst_days"] = 2.5, 2.0
        elif decoy == "one-day exercise":
            f["mil"], f["burst_days"] = 3.0, 1.0
        elif decoy == "a VIP visit":
            f["pax"], f["pax_ships"], f["burst_days"] = 3.0, 1.0, 1.0
        elif decoy == "two supply ships at once":
            f["sealift"], f["burst_days"] = 2.0, 1.0
        elif decoy == "vehicle blip":
            f["veh"], f["burst_days"] = 1.4, 1.0
        else:
            f["navy_leave"], f["navy_return"], f["burst_days"] = 0.3, 1.0, 1.0
    if f["navy_return"] >= 1.0 and f["navy_leave"] <= 0.0 and f["navy_hold"] < 1.0:  # none left: none comes back
        f["navy_return"] = 0.0
        effects.remove("warships come back")
    if f["navy_hold"] >= 1.0 and f["navy_leave"] < 1.0:  # holding offshore means they left first
        f["navy_leave"] = 1.0
        effects.append("warships leave")
    return f


def _rate(fx: Mapping[str, float], key: str, d: date, s0: date, last: date) -> float:
    if d < s0:
        return 1.0
    burst = fx.get("burst_days", 0.0)
    if burst and (d - s0).days >= burst:
        return 1.0
    return fx[key]


def _air(g: _Gen, days: Sequence[date], s0: date, seen: set[date], fx: Mapping[str, float]) -> None:
    lam_h, lam_m, lam_p = g.u(0.15, 0.6), g.u(0.5, 3.0), g.u(0.05, 0.6)
    n_ac = 0
    story_days = max(1, (days[-1] - s0).days + 1)
    flow = abs(fx["acft"]) * fx.get("a0", 8.0)  # airframes arriving or leaving over the story
    for d in days:
        if d not in seen:
            continue
        k = int(g.rng.poisson(lam_h * _rate(fx, "airlift", d, s0, days[-1])))
        for _ in range(k):
            n_ac += 1
            h = g.u(2, 18)
            ref = {"heavy": True, "military": True, "typecode": "IL76"}
            g.add("air.arrival", _t(d, h), "adsb", 1.0, ref, confidence=0.95, subject=f"h{n_ac}")
            g.add("air.departure", _t(d, min(h + g.u(1.5, 5), 23.9)), "adsb", 1.0, ref, confidence=0.9,
                  subject=f"h{n_ac}")
        # based aircraft fly sorties: out and back the same day (two movements of one airframe)
        m = int(g.rng.poisson(lam_m * _rate(fx, "mil", d, s0, days[-1]) / 2.0))
        for _ in range(m):
            n_ac += 1
            h = g.u(0, 19)
            ref = {"heavy": False, "military": True, "typecode": "SU24"}
            g.add("air.departure", _t(d, h), "adsb", 1.0, ref, confidence=0.9, subject=f"m{n_ac}")
            g.add("air.arrival", _t(d, h + g.u(1, 4.5)), "adsb", 1.0, ref, confidence=0.9, subject=f"m{n_ac}")
        for _ in range(int(g.rng.poisson(lam_p * _rate(fx, "pax", d, s0, days[-1])))):
            n_ac += 1  # an airliner or VIP jet in and out the same day
            h = g.u(2, 16)
            ref = {"heavy": False, "military": True, "passenger": True, "typecode": "T154"}
            g.add("air.arrival", _t(d, h), "adsb", 1.0, ref, confidence=0.9, subject=f"p{n_ac}")
            g.add("air.departure", _t(d, h + g.u(1, 6)), "adsb", 1.0, ref, confidence=0.9, subject=f"p{n_ac}")
        if d >= s0 and fx["acft"] and not fx.get("burst_days"):
            # aircraft that come to stay (or leave for good): one-way movements over the story,
            # the same airframes the imagery counts on the apron
            for _ in range(int(g.rng.poisson(flow / story_days))):
                n_ac += 1
                g.add("air.arrival" if fx["acft"] > 0 else "air.departure", _t(d, g.u(0, 23.9)), "adsb", 1.0,
                      {"heavy": False, "military": True, "typecode": "SU24"}, confidence=0.9, subject=f"c{n_ac}")
        dark_rate = fx["dark"] / max(1, (days[-1] - s0).days + 1) if d >= s0 else 0.01
        for _ in range(int(g.rng.poisson(dark_rate))):
            n_ac += 1
            g.add("air.dark-visit", _t(d, g.u(0, 20)), "adsb", 1.0, {"heavy": True, "military": True,
                                                                        "typecode": "A124"},
                  _t(d, 23.9), confidence=g.u(0.5, 0.85), subject=f"d{n_ac}")


def _sea(g: _Gen, days: Sequence[date], s0: date, seen: set[date], fx: Mapping[str, float], kind: str) -> None:
    at_port = kind == "port"
    n_navy = int(g.rng.integers(2, 6))
    lam_d = g.u(0.2, 1.0)
    civil = int(g.rng.integers(3, 10))
    leave_day = s0 + timedelta(days=int(g.rng.integers(0, 2)))
    back_day = leave_day + timedelta(days=int(g.rng.integers(2, 5)))
    leaving = max(2, round(n_navy * g.u(0.6, 1.0))) if fx["navy_leave"] >= 1.0 else (
        1 if fx["navy_leave"] > 0 else 0)
    for i in range(n_navy):
        mmsi = f"2731102{i:02d}"
        out = i < leaving
        ret = out and fx["navy_return"] >= 1.0
        t_leave = _t(leave_day, g.u(2, 20))
        if at_port:
            if out:
                g.add("sea.port-visit", _t(days[0], 0), "ais", 1.0, _IN_PORT_AT_START, t_leave, 0.9, mmsi)
                if _seen_out(seen, t_leave.date(), back_day - timedelta(days=1) if ret else days[-1]):
                    g.add("sea.vessel-departure", t_leave, "ais", 1.0, {"government": True, "ship_type": 35},
                          confidence=0.9, subject=mmsi)
                if ret and back_day <= days[-1]:  # a return after the as-of time is not seen yet
                    g.add("sea.port-visit", _t(back_day, 10), "ais", 1.0, {"government": True, "ship_type": 35},
                          _t(days[-1], 23.9), 0.9, mmsi)
            else:
                g.add("sea.port-visit", _t(days[0], 0), "ais", 1.0, _IN_PORT_AT_START, _t(days[-1], 23.9), 0.9,
                      mmsi)
        if out and fx["navy_hold"] >= 1.0 and (leaving == 1 or g.p(0.85)):
            # an episode still under way at the as-of time ends, as far as AIS can tell, at the last day
            end = min(_t(back_day, 8), _t(days[-1], 23.9)) if ret else _t(days[-1], 23.9)
            g.add("sea.loitering", t_leave + timedelta(hours=3), "ais", 1.0, {"government": True, "ship_type": 35},
                  end, 0.8, mmsi)
    if not at_port:
        return
    _calls(g, days, s0, seen, fx)
    ferry = g.u(3, 10) if g.p(0.5) else 0.0  # a ferry calling every few days, or none
    t_f = _t(days[0], g.u(0, 72)) if ferry else None
    n_pax = 0
    while t_f is not None and t_f.date() <= days[-1]:
        n_pax += 1
        g.add("sea.port-visit", t_f, "ais", 1.0, {"ship_type": 60}, min(t_f + timedelta(hours=8), _t(days[-1], 23.9)),
              0.9, "2731500F1")
        if _seen_out(seen, (t_f + timedelta(hours=8)).date(), days[-1]):
            g.add("sea.vessel-departure", t_f + timedelta(hours=8), "ais", 1.0, {"ship_type": 60}, confidence=0.9,
                  subject="2731500F1")
        t_f += timedelta(days=ferry * g.u(0.8, 1.2))
    for k in range(round(fx["pax_ships"])):  # passenger ships come in, embark people and sail
        t_in = _t(s0, g.u(0, 24 * max(1.0, min(fx.get("burst_days") or 99.0, (days[-1] - s0).days + 0.9))))
        t_out = t_in + timedelta(hours=g.u(6, 30))
        if t_out.date() > days[-1]:
            continue
        g.add("sea.port-visit", t_in, "ais", 1.0, {"ship_type": 60}, t_out, 0.9, f"27316{k:04d}")
        if _seen_out(seen, t_out.date(), days[-1]):
            g.add("sea.vessel-departure", t_out, "ais", 1.0, {"ship_type": 60}, confidence=0.9, subject=f"27316{k:04d}")
    story_h = 24.0 * ((days[-1] - s0).days + 1)
    for c in range(civil):
        mmsi = f"5773{c:05d}"
        t = _t(days[0], 0)
        # fewer ships in port: a share of the ships leave during the story and stay away (the
        # port empties) — the distinct ships at the quay each day fall, as the indicator counts them
        t_gone = (_t(s0, g.u(0, story_h)) if fx["ships"] < 1.0 and not fx.get("burst_days")
                  and g.p(1.0 - fx["ships"]) else None)
        while t.date() <= days[-1] and (t_gone is None or t < t_gone):
            lam = lam_d * _rate(fx, "deps", t.date(), s0, days[-1])
            stay = g.rng.exponential(civil / max(lam, 0.05)) * 24.0
            end = t + timedelta(hours=max(6.0, stay))
            last_call = t_gone is not None and end >= t_gone
            if last_call:
                assert t_gone is not None
                end = max(t + timedelta(hours=6.0), t_gone)
            g.add("sea.port-visit", t, "ais", 1.0, {"ship_type": 70}, max(t, min(end, _t(days[-1], 23.9))), 0.9, mmsi)
            nxt = end + timedelta(hours=float(g.rng.exponential(48.0)))
            if end.date() <= days[-1] and _seen_out(seen, end.date(),
                                                    days[-1] if last_call else min(nxt.date(), days[-1])):
                g.add("sea.vessel-departure", end, "ais", 1.0, {"ship_type": 70}, confidence=0.9, subject=mmsi)
            if last_call:
                break
            t = nxt
        stay_scale = _rate(fx, "ships", days[-1], s0, days[-1])
        for k in range(round(civil * max(0.0, stay_scale - 1.0))):  # ships arriving and staying (a build-up)
            g.add("sea.port-visit", _t(s0, g.u(0, 48)), "ais", 1.0, {"ship_type": 70}, _t(days[-1], 23.9),
                  0.9, f"6000{c:02d}{k:03d}")


_IN_PORT_AT_START = {"government": True, "ship_type": 35, "arrival_observed": False}


def _calls(g: _Gen, days: Sequence[date], s0: date, seen: set[date], fx: Mapping[str, float]) -> None:
    """Naval auxiliaries and chartered cargo ships calling: a routine supply run every week
    or few (or none), and in the story the extra ships that come to load or unload."""
    rate = g.u(0.0, 0.15)  # calls a day, routine
    times: list[datetime] = []
    t = _t(days[0], g.u(0, 24 * 14)) if rate > 0 else None
    while t is not None and t.date() <= days[-1]:
        times.append(t)
        t += timedelta(days=float(g.rng.exponential(1.0 / rate)))
    span_h = 24.0 * max(1.0, min(fx.get("burst_days") or 99.0, (days[-1] - s0).days + 0.9))
    times += [_t(s0, g.u(0, span_h)) for _ in range(round(fx["sealift"]))]
    for k, t_in in enumerate(sorted(times)):
        mmsi = f"27320{k:04d}"
        t_out = t_in + timedelta(hours=g.u(12, 72))
        ref = {"government": True, "ship_type": 70}
        if not _seen_out(seen, t_in.date(), min(t_out.date(), days[-1])):
            continue  # AIS was down for the whole call
        g.add("sea.port-visit", t_in, "ais", 1.0, ref, max(t_in, min(t_out, _t(days[-1], 23.9))), 0.9, mmsi)
        if t_out.date() <= days[-1] and _seen_out(seen, t_out.date(), days[-1]):
            g.add("sea.vessel-departure", t_out, "ais", 1.0, ref, confidence=0.9, subject=mmsi)


def _seen_out(seen: set[date], left: date, until: date) -> bool:
    """Is a departure on ``left`` seen? As the departure detector sees one: the ship is next
    seen outside the port — on the day it left, or on a later day AIS saw the area before it
    came back (``until``); an outage on the day itself only widens the crossing window."""
    d = left
    while d <= until:
        if d in seen:
            return True
        d += timedelta(days=1)
    return False


def _imagery(g: _Gen, days: Sequence[date], s0: date, fx: Mapping[str, float], kind: str) -> None:
    v0, sh0, a0 = g.u(10, 60), g.u(3, 10), fx["a0"]
    d = days[0] + timedelta(days=int(g.rng.integers(0, 5)))
    scenes: list[date] = []
    while d <= days[-1]:
        scenes.append(d)
        d += timedelta(days=int(g.rng.integers(3, 9)) if d < s0 else int(g.rng.integers(1, 4)))
    if g.p(0.15):  # no scene of the story period at all
        scenes = [x for x in scenes if x < s0]
    analyst = g.p(0.6)
    half = s0 + (days[-1] - s0) / 2
    for n, d in enumerate(scenes):
        in_story = d >= s0 and (not fx.get("burst_days") or (d - s0).days < fx["burst_days"])
        veh = v0 * (fx["veh"] if in_story else 1.0)
        if in_story and fx["veh_fall"] < 1.0 and d > half:
            veh = v0 * fx["veh_fall"]
        ac = a0 * (1.0 + fx["acft"]) if in_story else a0
        ships = sh0 * (fx["ships"] if in_story else 1.0)  # fewer or more ships, as AIS sees them
        sid = f"scene{n}"
        t = _t(d, 8)
        nv = int(g.rng.poisson(veh))
        g.add("imagery.count", t, "imagery", float(nv), {"class": "large-vehicle", "zone": "park", "scene_id": sid,
                                                         "resolvable": True}, confidence=g.u(0.6, 0.9), subject=sid)
        if kind == "airbase":
            g.add("imagery.count", t, "imagery", float(g.rng.poisson(ac)),
                  {"class": "plane", "zone": None, "scene_id": sid, "resolvable": True}, confidence=g.u(0.7, 0.95),
                  subject=sid)
        else:
            g.add("imagery.count", t, "imagery", float(g.rng.poisson(ships)),
                  {"class": "ship", "zone": None, "scene_id": sid, "resolvable": True}, confidence=g.u(0.7, 0.95),
                  subject=sid)
        if analyst and g.p(0.7):
            g.add("analyst.observation", _t(d, 12), "analyst", float(max(0, round(nv * g.u(0.85, 1.15)))),
                  {"class": "large-vehicle"}, confidence=0.6, subject="large-vehicle")


@dataclass
class Draw:
    """One drawn history: its truth, its kind of site and what :func:`scenario` returned."""

    truth: str
    kind: str
    site: Site
    rows: list[dict[str, Any]]
    coverage: list[dict[str, Any]]
    story_days: int
    effects: list[str]


def draws(rules: Mapping[str, Rule], runs: int, seed: int) -> Iterator[Draw]:
    """The histories :func:`calibrate` assesses, in its order (``tools/calibration_ceiling.py``
    scores other judges on the very same runs)."""
    rng = np.random.default_rng(seed)
    # the truth is drawn at the rate the hypotheses' priors say (the remainder excluded): a
    # stated probability can only come true as often as it says in a world with those base rates
    kinds_prior = {k: [rules[t].prior_for(k) if t in rules else 0.0 for t in TRUTHS] for k in KINDS}
    for i in range(runs):
        kind = KINDS[i % len(KINDS)]
        w = np.asarray(kinds_prior[kind], dtype=float)
        truth = str(rng.choice(TRUTHS, p=w / w.sum())) if w.sum() > 0 else TRUTHS[i % len(TRUTHS)]
        yield Draw(truth, kind, *scenario(rng, truth, kind))


def balanced_draws(runs: int, seed: int) -> Iterator[Draw]:
    """Histories with every truth and kind of site equally often, in turn (what a fit counts)."""
    rng = np.random.default_rng(seed)
    for i in range(runs):
        truth = TRUTHS[i % len(TRUTHS)]
        kind = KINDS[(i // len(TRUTHS)) % len(KINDS)]
        yield Draw(truth, kind, *scenario(rng, truth, kind))


def calibrate(rules: Mapping[str, Rule], runs: int, seed: int, progress: Any = None) -> dict[str, Any]:
    """Assess ``runs`` random scenarios with ``rules``; accuracy, Brier score, reliability."""
    rule_list = list(rules.values())
    results: list[Run] = []
    for i, dr in enumerate(draws(rules, runs, seed)):
        series = IND.compute_from_rows(dr.rows, dr.coverage, dr.site, AS_OF)
        obs = IT.observe(dr.site, series, dr.rows, dr.coverage, AS_OF)
        out = A.judge_set(rule_list, dr.site, obs, AS_OF, {r["evidence_id"]: r for r in dr.rows})
        probs = {a.hypothesis: a.probability for a in out}
        results.append(Run(dr.truth, dr.kind, probs, out[0].hypothesis, out[0].status, dr.story_days, dr.effects))
        if progress is not None:
            progress(i + 1)
    return score(results)


def score(results: Sequence[Run]) -> dict[str, Any]:
    n = len(results)
    hyps = sorted({h for r in results for h in r.probabilities})
    top1 = sum(r.leader == r.truth for r in results) / n if n else 0.0
    brier = sum(sum((r.probabilities[h] - (1.0 if h == r.truth else 0.0)) ** 2 for h in hyps)
                for r in results) / n if n else 0.0
    bins: list[dict[str, Any]] = []
    for b in range(BINS):
        lo, hi = b / BINS, (b + 1) / BINS
        cases = [(r.probabilities[h], h == r.truth) for r in results for h in hyps
                 if lo <= r.probabilities[h] < hi or (b == BINS - 1 and r.probabilities[h] == 1.0)]
        if not cases:
            bins.append({"bin": [lo, hi], "n": 0, "mean_p": None, "observed": None, "gap": None})
            continue
        mp = sum(p for p, _ in cases) / len(cases)
        obs = sum(1 for _, y in cases if y) / len(cases)
        sd = math.sqrt(sum(p * (1.0 - p) for p, _ in cases)) / len(cases)  # of `observed`, were `p` true
        bins.append({"bin": [lo, hi], "n": len(cases), "mean_p": round(mp, 4), "observed": round(obs, 4),
                     "gap": round(abs(mp - obs), 4), "sd_if_calibrated": round(sd, 4),
                     "within_sampling_error": abs(mp - obs) <= 1.96 * sd})
    per_truth = {}
    for t in sorted({r.truth for r in results}):
        rs = [r for r in results if r.truth == t]
        per_truth[t] = {"runs": len(rs), "top1_accuracy": round(sum(r.leader == t for r in rs) / len(rs), 4),
                        "mean_p_truth": round(sum(r.probabilities[t] for r in rs) / len(rs), 4)}
    confusion: dict[str, dict[str, int]] = {}
    for r in results:
        confusion.setdefault(r.truth, {}).setdefault(r.leader, 0)
        confusion[r.truth][r.leader] += 1
    big = [b for b in bins if b["n"] >= 20]
    return {"runs": n, "top1_accuracy": round(top1, 4), "brier": round(brier, 4), "reliability": bins,
            "targets": {"top1_accuracy>=0.90": top1 >= 0.90, "brier<=0.20": brier <= 0.20,
                        "bins_n>=20_within_0.10": all(b["gap"] <= 0.10 for b in big)},
            "sampling": sampling(results, hyps, big),
            "insufficient": sum(r.status != "assessed" for r in results),
            "per_truth": per_truth, "confusion": confusion,
            "log_loss": round(-sum(math.log(max(r.probabilities[r.truth], 1e-12)) for r in results) / max(n, 1), 4)}


def sampling(results: Sequence[Run], hyps: Sequence[str], big: Sequence[Mapping[str, Any]],
             draws: int = SAMPLING_DRAWS) -> dict[str, Any]:
    """What chance alone does to these scores at this many runs: the figures a forecaster
    whose stated probabilities were exactly right would show (each run's truth drawn from the
    probabilities it stated, ``draws`` times, seeded: the same results give the same answer).

    * ``top1_expected_if_calibrated`` (± ``top1_sd_if_calibrated``): the mean stated probability
      of the leader — how often the leader would be right if every probability were true;
    * ``bins_target_pass_chance_if_calibrated``: how often such a forecaster meets "every bin
      with ≥ 20 cases within 0.10" (a 20-case bin at p = 0.5 has a standard error of 0.11);
    * ``bins_n>=20_within_sampling_error``: every such bin's gap within 1.96 of its own
      standard error."""
    n = len(results)
    if not n or not hyps:
        return {}
    p = np.array([[r.probabilities[h] for h in hyps] for r in results], float)
    p = np.clip(p, 0.0, None)
    p /= np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    lead = p.max(axis=1)
    cum = np.cumsum(p, axis=1)
    b = np.minimum((p * BINS).astype(int), BINS - 1).ravel()
    flat = p.ravel()
    counts = np.bincount(b, minlength=BINS)
    sums = np.bincount(b, weights=flat, minlength=BINS)
    big_bins = counts >= 20
    rng = np.random.default_rng(20241208)
    passed = 0
    for _ in range(draws):
        truth = np.minimum((rng.random((n, 1)) > cum).sum(axis=1), len(hyps) - 1)
        y = np.zeros_like(p)
        y[np.arange(n), truth] = 1.0
        hits = np.bincount(b, weights=y.ravel(), minlength=BINS)
        gaps = np.abs(sums[big_bins] - hits[big_bins]) / counts[big_bins]
        passed += bool((gaps <= 0.10).all())
    return {"draws": draws,
            "top1_expected_if_calibrated": round(float(lead.mean()), 4),
            "top1_sd_if_calibrated": round(float(np.sqrt((lead * (1 - lead)).sum()) / n), 4),
            "bins_target_pass_chance_if_calibrated": round(passed / draws, 3),
            "bins_n>=20_within_sampling_error": all(bool(x["within_sampling_error"]) for x in big)}


def empirical(runs: int, seed: int) -> dict[str, dict[str, dict[str, Any]]]:
    """How often each state of each item is observed under each true hypothesis in the
    simulator (item → truth → {"n", "states": {state: frequency}}): what a hypothesis file
    would state if the simulator's world were the real one (``tools/fit_rules.py``)."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for dr in balanced_draws(runs, seed):
        series = IND.compute_from_rows(dr.rows, dr.coverage, dr.site, AS_OF)
        for o in IT.observe(dr.site, series, dr.rows, dr.coverage, AS_OF):
            if o.state is not None:
                c = counts.setdefault((o.item, dr.truth), {})
                c[o.state] = c.get(o.state, 0) + 1
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (it, truth), c in counts.items():
        n = sum(c.values())
        out.setdefault(it, {})[truth] = {"n": n, "states": {s: c.get(s, 0) / n for s in IT.ITEMS[it].states}}
    return out
