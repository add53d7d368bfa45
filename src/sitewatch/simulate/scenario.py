"""The scenario: what happens at Hmeimim and Tartus, November–December 2024, as data.

Contract: :func:`build(seed, scale)` returns a :class:`Scenario` — flights (legs with
waypoints, times and transponder-off windows), ship voyages (timed waypoints with AIS
status), the true number of vehicles in each park per day, scene plans and analyst
observations. Same ``(seed, scale)``, same scenario. ``scale`` (0 < scale ≤ 1) thins the
background traffic and shortens the baseline; the story's events are always present.

The story follows the BBC Verify reporting summarised in ``shared/docs/source-article.txt``.
The article gives weekdays; read against the article's date (Thursday 19 December 2024)
they are: Friday 13 (two An-124 at the base, Planet), Sunday 15 (dozens of vehicles near
an Il-76, Maxar), Tuesday 17 (the An-124s gone; an An-124 tracked from Russia disappears
off the coast west of Hmeimim and is seen heading north six hours later), Wednesday 18
(two large aircraft again); "last week" the warships left Tartus (here 9–10 December)
and hold in international waters. Before that, from ``BASELINE_START``, routine activity:
an Il-76 every few days, one An-124, the squadron alongside at Tartus.

Identities: An-124 and Il-76 registrations and ICAO addresses are the public
registry pairs of the Russian Air Force fleet (Mictronics database, Russian address
block 0x140000–0x15FFFF); their flights here are simulated. Ship names are those of the
Russian Navy units reported at Tartus in 2024; their MMSIs are simulated (MID 273).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from sitewatch.simulate import layout as L

BASELINE_START = datetime(2024, 11, 10, tzinfo=UTC)
STORY_START = datetime(2024, 12, 8, tzinfo=UTC)  # fall of Damascus
END = datetime(2024, 12, 20, tzinfo=UTC)

LatLon = tuple[float, float]


@dataclass(frozen=True)
class Airframe:
    icao24: str
    registration: str
    typecode: str
    type_name: str
    operator: str
    military: bool
    category: str  # ADS-B emitter category, e.g. A5 heavy


@dataclass(frozen=True)
class Leg:
    """One flight leg. ``from_site``/``to_site`` mark take-off from / landing at Hmeimim
    (runway, taxi and apron positions are then generated); other ends start or stop in
    the air at the edge of the feed's coverage or at a named airfield."""

    airframe: Airframe
    callsign: str
    t_ref: datetime  # landing time for legs to the site, else time at the first point
    route: tuple[LatLon, ...]  # waypoints between the ends (excluding Hmeimim runway points)
    cruise_ft: float
    cruise_kt: float
    from_site: bool = False
    to_site: bool = False
    approach_from_north: bool = False  # landing on runway 17 instead of 35
    stand: int = 0  # index into layout.H_STANDS for legs to or from the site


@dataclass(frozen=True)
class DarkWindow:
    """Transponder off: no ADS-B from ``icao24`` between the two times."""

    icao24: str
    t_off: datetime
    t_on: datetime


@dataclass(frozen=True)
class Ship:
    mmsi: str
    name: str
    callsign: str
    imo: int
    ship_type: int
    length_m: float
    beam_m: float
    draught_m: float
    navy: bool


@dataclass(frozen=True)
class Voyage:
    """Timed waypoints (t, lat, lon, nav_status) of one ship; positions are interpolated."""

    ship: Ship
    points: tuple[tuple[datetime, float, float, int], ...]
    destination: str = ""


@dataclass(frozen=True)
class Stay:
    """An aircraft on a Hmeimim stand between landing and take-off (ground truth)."""

    airframe: Airframe
    stand: int
    t_in: datetime
    t_out: datetime


@dataclass(frozen=True)
class ScenePlan:
    site: str
    t_utc: datetime
    provider: str
    gsd_m: float


@dataclass(frozen=True)
class Observation:
    t_utc: datetime
    site: str
    text: str
    count: float | None
    cls: str | None
    zone: str | None
    source: str
    confidence: float


@dataclass
class Scenario:
    seed: int
    scale: float
    t_start: datetime
    t_end: datetime
    airframes: list[Airframe]
    legs: list[Leg]
    dark: list[DarkWindow]
    stays: list[Stay]
    voyages: list[Voyage]
    scenes: list[ScenePlan]
    observations: list[Observation]
    vehicles: dict[tuple[str, str, date], int] = field(default_factory=dict)

    def vehicles_at(self, site: str, zone: str, t: datetime) -> int:
        return self.vehicles.get((site, zone, t.date()), 0)

    def aircraft_at(self, t: datetime) -> list[Stay]:
        return [s for s in self.stays if s.t_in <= t < s.t_out]

    def ships_at(self, t: datetime) -> list[tuple[Voyage, float, float]]:
        """(voyage, lat, lon) of every ship at time ``t`` (interpolated)."""
        out = []
        for v in self.voyages:
            ts = [p[0] for p in v.points]
            if not ts[0] <= t <= ts[-1]:
                continue
            i = max(0, min(len(ts) - 2, int(np.searchsorted(np.array([x.timestamp() for x in ts]),
                                                                t.timestamp(), side="right")) - 1))
            a, b = v.points[i], v.points[i + 1]
            f = (t - a[0]) / (b[0] - a[0]) if b[0] > a[0] else 0.0
            out.append((v, a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])))
        return out


# --- identities ------------------------------------------------------------------------
_RU_AF = "Russian Aerospace Forces"
AN124 = [Airframe(h, r, "A124", "Antonov An-124 Ruslan", _RU_AF, True, "A5") for h, r in (
    ("154076", "RA-82038"), ("154078", "RA-82040"), ("154073", "RA-82035"),
    ("15406e", "RA-82030"), ("15405e", "RA-82014"), ("154077", "RA-82039"))]
IL76 = [Airframe(h, r, "IL76", "Ilyushin Il-76MD", _RU_AF, True, "A5") for h, r in (
    ("1533e1", "RA-78817"), ("1533ee", "RA-78830"), ("1533f3", "RA-78835"), ("1533fa", "RA-78842"),
    ("1533fd", "RA-78845"), ("152ba9", "RA-76713"), ("1533cc", "RA-78796"), ("1533f6", "RA-78838"))]

# Mozdok (North Ossetia), the usual staging base, then Caspian – Iran – Iraq – Syria.
MOZDOK: LatLon = (43.79, 44.60)
ROUTE_EAST: tuple[LatLon, ...] = (MOZDOK, (42.4, 48.6), (37.6, 48.7), (34.3, 44.6), (34.7, 39.2),
                                  (35.05, 36.6))
# The dark An-124: the same corridor, then out over the sea north-west of Latakia and south
# along the coast, where the feed loses it; it comes back climbing north after six hours.
DARK_IN: tuple[LatLon, ...] = (*ROUTE_EAST[:-1], (35.75, 36.35), (35.70, 35.55), (35.40, 35.28), (35.34, 35.50))
DARK_LOSS: LatLon = DARK_IN[-1]  # where the feed loses it: about 41 km west of the base
DARK_HOURS = 6.0
DARK_OUT: tuple[LatLon, ...] = ((35.95, 35.80), (36.60, 35.55), (38.2, 36.1), (41.6, 37.4), (44.7, 38.3))

# Civil background (coverage evidence): (route, callsign prefix, icao prefix, alt_ft)
CIVIL_ROUTES: tuple[tuple[tuple[LatLon, ...], str, str, float], ...] = (
    (((33.82, 35.49), (34.45, 35.22), (35.40, 35.30), (36.35, 35.45), (36.98, 35.28)), "MEA", "748", 31000),
    (((35.00, 29.5), (34.90, 33.60), (35.40, 36.40), (36.10, 41.0), (33.30, 44.4)), "CYP", "4c8", 36000),
    (((40.90, 29.30), (36.90, 30.80), (35.10, 33.30), (33.82, 35.49)), "THY", "4b8", 35000),
    (((36.98, 35.28), (35.90, 34.90), (34.60, 34.30), (31.50, 32.00)), "MSR", "010", 33000),
)

# A maritime-patrol / ISR orbit off the Syrian coast by day, out of RAF Akrotiri (Cyprus), as such
# flights often are: one of the aircraft the feed hears in that airspace (its coverage evidence).
AKROTIRI: LatLon = (34.59, 32.99)
ISR = Airframe("43c6f1", "ZZ664", "R135", "Boeing RC-135W Rivet Joint", "Royal Air Force", True, "A5")
ISR_ORBIT: tuple[LatLon, ...] = ((35.05, 35.25), (35.75, 35.45), (35.80, 35.55), (35.10, 35.35))

NAVY = [Ship(m, n, c, 0, 35, ln, b, d, True) for m, n, c, ln, b, d in (
    ("273110250", "ADMIRAL GRIGOROVICH", "RUS101", 124.8, 15.2, 4.2),
    ("273110260", "ADMIRAL GOLOVKO", "RUS102", 124.8, 15.2, 4.2),
    ("273110270", "VYAZMA", "RUS103", 122.0, 17.0, 7.0),
    ("273110280", "YELNYA", "RUS104", 123.0, 17.0, 7.0),
)]
MERCHANT = [Ship(m, n, c, imo, 70, ln, b, d, False) for m, n, c, imo, ln, b, d in (
    ("341447000", "SIM TRADER", "V4AB2", 9183001, 98.0, 16.0, 6.1),
    ("577345000", "SIM CARRIER", "YJQA7", 9230002, 88.0, 14.0, 5.5),
)]
# Holding area in international waters, about 30 NM west of Tartus.
LOITER: LatLon = (34.95, 35.25)


def _t(d: int, hh: float, month: int = 12) -> datetime:
    return datetime(2024, month, d, tzinfo=UTC) + timedelta(hours=hh)


def _airlift_visits() -> list[tuple[Airframe, datetime, datetime]]:
    """(airframe, landing, take-off) at Hmeimim with ADS-B on, from the article's dates."""
    a, il = AN124, IL76
    visits = [
        (a[0], _t(12, 16.0), _t(15, 21.0)),  # the two An-124 seen on Friday 13 ...
        (a[1], _t(13, 3.5), _t(16, 5.0)),  # ... gone by Tuesday 17
        (a[3], _t(17, 20.5), _t(19, 4.0)),  # two large aircraft again on Wednesday 18
        (a[4], _t(18, 2.2), _t(19, 12.0)),
        (il[0], _t(15, 6.8), _t(15, 11.5)),  # the Il-76 beside the vehicles on Sunday 15 (Maxar)
    ]
    # The Il-76 shuttle: three to four a day from 11 December.
    slots = [(11, 10.5), (11, 15.0), (12, 9.0), (12, 14.5), (13, 10.5), (13, 15.5), (14, 7.5), (14, 12.0),
             (14, 17.5), (15, 13.5), (15, 18.0), (16, 9.5), (16, 14.0), (16, 19.0), (17, 10.0), (17, 15.0),
             (17, 19.5), (18, 11.0), (18, 15.5), (18, 20.0), (19, 8.0), (19, 13.0), (19, 17.5)]
    for k, (d, h) in enumerate(slots):
        visits.append((il[1 + k % (len(il) - 1)], _t(d, h), _t(d, h + 2.5 + (k % 3) * 0.5)))
    return visits


def _baseline_visits(rng: np.random.Generator, start: datetime) -> list[tuple[Airframe, datetime, datetime]]:
    visits = []
    day = start + timedelta(days=1)
    k = 0
    while day < STORY_START - timedelta(days=1):
        land = day + timedelta(hours=float(rng.uniform(8, 14)))
        visits.append((IL76[k % len(IL76)], land, land + timedelta(hours=float(rng.uniform(2.5, 4.5)))))
        day += timedelta(days=int(rng.integers(3, 6)))
        k += 1
    visits.append((AN124[5], _t(24, 11.0, 11), _t(25, 9.0, 11)))
    return [v for v in visits if v[1] >= start]


def _legs_for_visit(af: Airframe, land: datetime, off: datetime, k: int, stand: int) -> list[Leg]:
    """Inbound leg landing at ``land`` (its departure time is back-computed by the track
    generator) and outbound leg leaving the stand at ``off``."""
    cs = f"RFF{7000 + (int(af.icao24, 16) % 900) + k % 7}"
    speed = 430.0
    alt = 33000.0 if af.typecode == "A124" else 31000.0
    inbound = Leg(af, cs, land, ROUTE_EAST, alt, speed, to_site=True, stand=stand)
    outbound = Leg(af, cs, off, tuple(reversed(ROUTE_EAST)), alt + 2000, speed, from_site=True, stand=stand)
    return [inbound, outbound]


def _vehicles(rng: np.random.Generator, start: datetime) -> dict[tuple[str, str, date], int]:
    """True vehicles per park per day: a steady baseline, then columns arriving from the 8th."""
    rise = {8: 26, 9: 35, 10: 48, 11: 60, 12: 70, 13: 78, 14: 88, 15: 97, 16: 106, 17: 113, 18: 121,
            19: 126}
    t_rise = {8: 9, 9: 11, 10: 14, 11: 17, 12: 21, 13: 24, 14: 27, 15: 31, 16: 36, 17: 40, 18: 43, 19: 45}
    out: dict[tuple[str, str, date], int] = {}
    d = start.date()
    while d < END.date():
        if d.month == 12 and d.day in rise:
            total, port = rise[d.day], t_rise[d.day]
        else:
            total, port = int(22 + rng.integers(0, 5)), int(7 + rng.integers(0, 3))
        north = round(total * 0.58)
        out[("hmeimim", "park-north", d)] = north
        out[("hmeimim", "park-south", d)] = total - north
        out[("tartus", "park", d)] = port
        d += timedelta(days=1)
    return out


def _ll(site: str, x: float, y: float) -> LatLon:
    lat0, lon0 = (L.HMEIMIM_LAT, L.HMEIMIM_LON) if site == "hmeimim" else (L.TARTUS_LAT, L.TARTUS_LON)
    lon, lat = L.to_lonlat(lat0, lon0, x, y)
    return lat, lon


def _voyages(rng: np.random.Generator, start: datetime) -> list[Voyage]:
    """Navy units alongside until 9–10 December, then out to hold ~30 NM west; two
    merchant ships making routine calls."""
    quays = [(L.T_QUAY_N, 1, 0.30), (L.T_QUAY_N, -1, 0.62), (L.T_QUAY_S, 1, 0.35), (L.T_QUAY_S, -1, 0.65)]
    sail = [_t(9, 6.0), _t(9, 15.5), _t(10, 4.0), _t(10, 13.0)]
    exit_ll = _ll("tartus", -900.0, 60.0)
    out = []
    for i, ship in enumerate(NAVY):
        q, side, f = quays[i]
        bx, by = L.berth(q, side, f)
        b_ll = _ll("tartus", bx, by)
        pts: list[tuple[datetime, float, float, int]] = [(start, *b_ll, 5), (sail[i], *b_ll, 5)]
        t = sail[i] + timedelta(minutes=25)
        pts.append((t, *exit_ll, 0))
        # to the holding area at 12 kn, then drift around it below 2 kn until the end
        hold = (LOITER[0] + 0.03 * (i - 1.5), LOITER[1] + 0.02 * ((i % 2) - 0.5))
        t += timedelta(hours=2.7)
        pts.append((t, *hold, 0))
        while t < END:
            step = timedelta(hours=float(rng.uniform(3, 6)))
            ang = float(rng.uniform(0, 2 * np.pi))
            nxt = (hold[0] + 0.025 * np.sin(ang), hold[1] + 0.03 * np.cos(ang))
            if t + step > END:  # stop at the end, part-way along the last drift
                f = (END - t) / step
                prev = pts[-1]
                nxt = (prev[1] + f * (nxt[0] - prev[1]), prev[2] + f * (nxt[1] - prev[2]))
                step = END - t
            t += step
            pts.append((t, nxt[0], nxt[1], 0))
        out.append(Voyage(ship, tuple(pts), "TARTUS" if i < 2 else "SEVASTOPOL"))
    # merchant calls: in from the west, alongside the south pier's outer end, out again
    t = start + timedelta(days=2)
    k = 0
    while t < END - timedelta(days=2):
        ship = MERCHANT[k % 2]
        bx, by = L.berth(L.T_QUAY_S, -1, 0.12)
        b_ll = _ll("tartus", bx, by)
        sea = (34.90, 35.55)
        arr = t + timedelta(hours=float(rng.uniform(0, 12)))
        dwell = timedelta(hours=float(rng.uniform(30, 60)))
        pts = [(arr - timedelta(hours=3.5), *sea, 0), (arr - timedelta(minutes=20), *exit_ll, 0),
               (arr, *b_ll, 5), (arr + dwell, *b_ll, 5), (arr + dwell + timedelta(minutes=20), *exit_ll, 0),
               (arr + dwell + timedelta(hours=3.5), *sea, 0)]
        out.append(Voyage(ship, tuple(pts), "TARTUS"))
        t += timedelta(days=int(rng.integers(5, 9)))
        k += 1
    return out


def _scenes(start: datetime) -> list[ScenePlan]:
    sky, maxar = "SIMULATED Planet SkySat-like (0.5 m)", "SIMULATED Maxar WorldView-like (0.5 m)"
    plans = [
        ScenePlan("hmeimim", _t(20, 8.2, 11), sky, 0.5),
        ScenePlan("hmeimim", _t(6, 8.0), sky, 0.5),
        ScenePlan("hmeimim", _t(13, 8.1), sky, 0.5),
        ScenePlan("hmeimim", _t(15, 8.5), maxar, 0.5),
        ScenePlan("hmeimim", _t(17, 7.6), sky, 0.5),
        ScenePlan("hmeimim", _t(18, 8.0), sky, 0.5),
        ScenePlan("tartus", _t(20, 8.3, 11), sky, 0.5),
        ScenePlan("tartus", _t(6, 8.1), sky, 0.5),
        ScenePlan("tartus", _t(11, 8.2), maxar, 0.5),
        ScenePlan("tartus", _t(16, 8.0), sky, 0.5),
    ]
    return [p for p in plans if p.t_utc >= start]


def _observations() -> list[Observation]:
    """What the article reports, as an analyst would log it (sources named as there)."""
    bbc, planet, maxar = "BBC Verify", "Planet Labs via BBC Verify", "Maxar Technologies via BBC Verify"
    return [
        Observation(_t(11, 9.0), "tartus", "0 × ship alongside (navy): Russian warships have left the port", 0,
                    "ship", None, "analysts quoted by the press", 0.6),
        Observation(_t(13, 9.0), "hmeimim", "2 × A124 on the apron", 2, "A124", "apron", planet, 0.8),
        Observation(_t(15, 9.0), "hmeimim", "dozens of military vehicles parked near an Il-76 on the apron",
                    None, "large-vehicle", "apron", maxar, 0.8),
        Observation(_t(15, 12.0), "hmeimim", "extensive columns of military trucks moving north towards the bases",
                    None, "large-vehicle", None, "BBC", 0.6),
        Observation(_t(17, 8.0), "hmeimim", "0 × A124 on the apron: the two An-124 have left", 0, "A124", "apron",
                    planet, 0.8),
        Observation(_t(17, 14.0), "hmeimim",
                    "An-124 tracked from Russian airspace disappeared off the Syrian coast west of the base; "
                    "seen heading north six hours later", None, "A124", None, "Flightradar24 via BBC Verify", 0.7),
        Observation(_t(18, 8.0), "hmeimim", "2 × heavy-transport aircraft at the base again", 2, "heavy-transport",
                    "apron", planet, 0.7),
        Observation(_t(18, 12.0), "hmeimim", "more than 100 military vehicles have arrived in recent days", 100,
                    "large-vehicle", None, bbc, 0.7),
        Observation(_t(15, 9.0), "hmeimim", "1 × IL76 on the apron", 1, "IL76", "apron", maxar, 0.8),
        Observation(_t(18, 12.0), "tartus", "the warships have not returned; held in international waters", 0,
                    "ship", None, bbc, 0.6),
    ]


def _dark_window(leg: Leg) -> DarkWindow:
    """Transponder off from the moment the inbound leg passes :data:`DARK_LOSS` for six hours."""
    from sitewatch import geo
    from sitewatch.simulate.tracks import leg_track

    tr = leg_track(leg)
    i = int(np.argmin(geo.haversine_m(tr.lat, tr.lon, DARK_LOSS[0], DARK_LOSS[1])))
    t_off = datetime.fromtimestamp(round(float(tr.t[i])), UTC)
    return DarkWindow(leg.airframe.icao24, t_off, t_off + timedelta(hours=DARK_HOURS))


def _routine_observations(start: datetime, vehicles: dict[tuple[str, str, date], int], stays: list[Stay],
                          voyages: list[Voyage]) -> list[Observation]:
    """Twice-weekly routine monitoring notes before the story (the analysts' own baseline), read
    from the scenario's ground truth on those mornings."""
    out = []
    src = "Planet Labs (routine monitoring)"
    day = start + timedelta(days=1)
    while day < STORY_START:
        t = day + timedelta(hours=9)
        n_veh = vehicles[("hmeimim", "park-north", t.date())] + vehicles[("hmeimim", "park-south", t.date())]
        out.append(Observation(t, "hmeimim", f"{n_veh} × large-vehicle in the vehicle parks", n_veh,
                               "large-vehicle", None, src, 0.7))
        n_il = sum(1 for s in stays if s.t_in <= t < s.t_out and s.airframe.typecode == "IL76")
        out.append(Observation(t, "hmeimim", f"{n_il} × IL76 on the apron", n_il, "IL76", "apron", src, 0.7))
        alongside = sum(1 for v in voyages if v.ship.navy and v.points[0][0] <= t < v.points[1][0])
        out.append(Observation(t, "tartus", f"{alongside} × ship alongside (navy)", alongside, "ship", None, src,
                               0.7))
        day += timedelta(days=3)
    return out


def build(seed: int = 2024, scale: float = 1.0) -> Scenario:
    """The scenario for ``seed`` at ``scale`` (baseline weeks and background traffic thinned)."""
    if not 0 < scale <= 1:
        from sitewatch.errors import InputError

        raise InputError(f"--scale {scale} must be in (0, 1]")
    rng = np.random.default_rng(seed)
    baseline_days = max(10, round(28 * scale))
    start = STORY_START - timedelta(days=baseline_days)
    visits = _baseline_visits(rng, start) + _airlift_visits()
    legs: list[Leg] = []
    stays: list[Stay] = []
    dark_af = AN124[2]
    dark_land, dark_off = _t(17, 8.35), _t(17, 13.95)
    visits.append((dark_af, dark_land, dark_off))
    for k, (af, land, off) in enumerate(sorted(visits, key=lambda v: v[1])):
        busy = {s.stand for s in stays if s.t_in < off and land < s.t_out}
        stand = next(i for i in range(len(L.H_STANDS)) if i not in busy)
        stays.append(Stay(af, stand, land, off))
        if af == dark_af and land == dark_land:
            # The dark visit of Tuesday 17: tracked in, lost west of the base, back heading north.
            legs.append(Leg(af, "RFF7251", land, DARK_IN, 33000, 430, to_site=True, stand=stand))
            legs.append(Leg(af, "RFF7251", off, DARK_OUT, 34000, 430, from_site=True, stand=stand))
        else:
            legs += _legs_for_visit(af, land, off, k, stand)
    dark = [_dark_window(next(lg for lg in legs if lg.airframe == dark_af and lg.t_ref == dark_land))]
    # Civil background, every day, thinned by scale.
    per_day = max(1, round(3 * scale))
    day = start
    n = 0
    while day < END:
        for route, prefix, icao_prefix, alt in CIVIL_ROUTES:
            for _ in range(per_day):
                rev = bool(rng.integers(0, 2))
                idx = int(rng.integers(0, 4095))
                af = Airframe(f"{icao_prefix}{idx:03x}", f"SIM-{prefix}{idx:03d}", "A320", "Airbus A320", prefix,
                              False, "A3")
                t_dep = day + timedelta(hours=float(rng.uniform(0, 24)))
                legs.append(Leg(af, f"{prefix}{100 + idx % 900}", t_dep, tuple(reversed(route)) if rev else route,
                                alt + 1000 * int(rng.integers(-2, 3)), 450))
                n += 1
        day += timedelta(days=1)
    day = start
    while day < END:  # the daily ISR orbit, 06:00–16:00 UTC on station
        laps = ISR_ORBIT * 36
        legs.append(Leg(ISR, "RRR7238", day + timedelta(hours=5.5), (AKROTIRI, *laps, AKROTIRI), 24000, 330))
        day += timedelta(days=1)
    airframes = sorted({lg.airframe for lg in legs if lg.airframe.military}, key=lambda a: a.icao24)
    stays.sort(key=lambda s: s.t_in)
    voyages = _voyages(rng, start)
    vehicles = _vehicles(rng, start)
    observations = _routine_observations(start, vehicles, stays, voyages) + _observations()
    return Scenario(seed, scale, start, END, airframes, legs, dark, stays, voyages, _scenes(start), observations,
                    vehicles)
