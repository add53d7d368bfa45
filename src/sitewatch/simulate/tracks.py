"""Aircraft tracks from flight legs, and what an ADS-B feed would have received of them.

Contract: :func:`leg_track` turns a :class:`~sitewatch.simulate.scenario.Leg` into a
:class:`Track` (NumPy columns sampled every ``dt_air_s`` in the air and ``dt_ground_s``
on the ground: epoch seconds, lat, lon, barometric altitude, ground speed, track,
vertical rate, on-ground flag). :func:`received` keeps the samples a receiver network
covering :data:`COVERAGE` would have decoded, minus transponder-off windows; the
transponder is off while the aircraft is parked on its stand.

Profiles are simple and physical: a 3° descent (0.172 ft per metre flown) into the
touchdown, a climb of 0.2 ft per metre after lift-off (about 2,000 ft/min at 250 kt),
airspeed rising from the approach speed near the ground to cruise above 20,000 ft,
a landing roll decelerating to taxi speed, taxi at 15 kt.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sitewatch import geo
from sitewatch.simulate import layout as L
from sitewatch.simulate.scenario import DarkWindow, Leg

F = NDArray[np.float64]

# Receiver network of the simulated regional feed: (lat_min, lon_min, lat_max, lon_max).
COVERAGE = (29.5, 27.5, 46.5, 50.5)
_DESCENT_FT_PER_M = 0.172  # tan(3°) in ft per metre of ground track
_CLIMB_FT_PER_M = 0.20
_APPROACH_KT = 140.0
_TAXI_KT = 15.0
_FAR_END_FT = 2000.0  # legs that start/end away from the site begin/end at this height


@dataclass
class Track:
    icao24: str
    callsign: str
    squawk: str
    t: F  # epoch seconds
    lat: F
    lon: F
    alt_ft: F
    gs_kt: F
    trk_deg: F
    vr_fpm: F
    onground: NDArray[np.bool_]
    category: str = "A0"  # ADS-B emitter category (A5 heavy)

    def __len__(self) -> int:
        return int(self.t.size)

    def take(self, mask: NDArray[np.bool_]) -> Track:
        return Track(self.icao24, self.callsign, self.squawk, self.t[mask], self.lat[mask], self.lon[mask],
                     self.alt_ft[mask], self.gs_kt[mask], self.trk_deg[mask], self.vr_fpm[mask],
                     self.onground[mask], self.category)


def _rw(v: float, u: float = 0.0) -> tuple[float, float]:
    return L.runway_point(v, u)


def _path(leg: Leg) -> tuple[list[tuple[float, float]], list[str]]:
    """Waypoints and the kind of each segment's end ('air', 'roll', 'lift', 'taxi')."""
    half = L.RUNWAY_LEN_M / 2
    pts: list[tuple[float, float]] = []
    kinds: list[str] = []
    if leg.from_site:
        stand_u, stand_v = L.H_STANDS[leg.stand]
        for p in (_rw(stand_v, stand_u + 60), _rw(stand_v, -130), _rw(-half + 100, -130), _rw(-half + 50)):
            pts.append(p)
            kinds.append("taxi")
        pts.append(_rw(150.0))
        kinds.append("lift")
        pts.append(_rw(5000.0))
        kinds.append("air")
    for p in leg.route:
        pts.append(p)
        kinds.append("air")
    if leg.to_site:
        s = -1.0 if leg.approach_from_north else 1.0  # direction of landing along v
        thr = -s * half
        pts += [_rw(thr - s * 18000.0), _rw(thr - s * 9000.0), _rw(thr + s * 300.0)]
        kinds += ["air", "air", "air"]
        pts.append(_rw(s * 300.0))
        kinds.append("roll")
        stand_u, stand_v = L.H_STANDS[leg.stand]
        for p in (_rw(s * 400.0, -130), _rw(stand_v, -130), _rw(stand_v, stand_u + 60)):
            pts.append(p)
            kinds.append("taxi")
    return pts, kinds


def _densify(pts: list[tuple[float, float]], kinds: list[str], step_m: float = 1500.0
             ) -> tuple[F, F, NDArray[np.str_]]:
    lats, lons, ks = [pts[0][0]], [pts[0][1]], [kinds[0]]
    for (a, b), k in zip(itertools.pairwise(pts), kinds[1:], strict=True):
        d = float(geo.haversine_m(a[0], a[1], b[0], b[1]))
        n = max(1, int(np.ceil(d / (step_m if k == "air" else 50.0))))
        f = np.arange(1, n + 1) / n
        lats += list(a[0] + f * (b[0] - a[0]))
        lons += list(a[1] + f * (b[1] - a[1]))
        ks += [k] * n
    return np.array(lats), np.array(lons), np.array(ks)


def leg_track(leg: Leg, dt_air_s: float = 10.0, dt_ground_s: float = 5.0) -> Track:
    """The whole leg as flown (before any coverage or transponder filtering)."""
    pts, kinds = _path(leg)
    lat, lon, k = _densify(pts, kinds)
    seg = np.r_[0.0, geo.haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])]
    dist = np.cumsum(seg)
    elev = L.HMEIMIM_ELEV_FT
    air = k == "air"
    # distance from lift-off / to touchdown along the path
    if leg.from_site:
        d_lift = dist - dist[np.argmax(k == "lift")]
        climb = elev + np.clip(d_lift, 0, None) * _CLIMB_FT_PER_M
    else:
        climb = _FAR_END_FT + dist * _CLIMB_FT_PER_M
    if leg.to_site:
        td = int(np.argmax(k == "roll")) - 1  # last air point is the touchdown
        d_td = dist[td] - dist
        descent = elev + np.clip(d_td, 0, None) * _DESCENT_FT_PER_M
    else:
        descent = _FAR_END_FT + (dist[-1] - dist) * _DESCENT_FT_PER_M
    alt = np.minimum(np.minimum(climb, descent), leg.cruise_ft)
    alt = np.where(air | (k == "lift"), alt, elev)
    frac = np.clip((alt - elev) / 20000.0, 0, 1)
    spd = _APPROACH_KT + (leg.cruise_kt - _APPROACH_KT) * frac
    roll = k == "roll"
    if roll.any():
        r = np.flatnonzero(roll)
        spd[r] = np.linspace(_APPROACH_KT, 25.0, r.size)
    lift = np.flatnonzero(k == "lift")
    if lift.size:
        spd[lift] = np.linspace(20.0, 150.0, lift.size)
    spd[k == "taxi"] = _TAXI_KT
    mean_ms = np.r_[spd[0], (spd[1:] + spd[:-1]) / 2] * geo.KT_MS
    tt = np.cumsum(seg / np.maximum(mean_ms, 1.0))
    anchor = td if leg.to_site else 0
    t0 = leg.t_ref.timestamp()
    tt = tt - tt[anchor] + t0
    # resample at fixed intervals (finer on the ground)
    ground_t = tt[~air]
    samples = np.arange(tt[0], tt[-1], dt_air_s)
    if ground_t.size:
        samples = np.union1d(samples[(samples < ground_t.min()) | (samples > ground_t.max())],
                             np.arange(ground_t.min(), ground_t.max(), dt_ground_s))
    s_lat = np.interp(samples, tt, lat)
    s_lon = np.interp(samples, tt, lon)
    s_alt = np.interp(samples, tt, alt)
    s_spd = np.interp(samples, tt, spd)
    on = np.interp(samples, tt, (~(air | (k == "lift"))).astype(float)) > 0.5
    if lift.size:  # on the runway until lift-off
        on |= (samples >= tt[lift[0]]) & (samples < tt[lift[-1]])
    nxt = np.r_[1:samples.size, samples.size - 1]
    prv = np.r_[0, 0:samples.size - 1]
    trk = geo.bearing_deg(s_lat[prv], s_lon[prv], s_lat[nxt], s_lon[nxt])
    dtv = np.maximum(samples[nxt] - samples[prv], 1e-6)
    vr = (s_alt[nxt] - s_alt[prv]) / dtv * 60.0
    s_alt = np.round(s_alt / 25.0) * 25.0  # ADS-B altitude quantum
    return Track(leg.airframe.icao24, leg.callsign, _squawk(leg), samples, s_lat, s_lon, s_alt,
                 np.round(s_spd), np.round(trk, 1), np.round(vr / 64.0) * 64.0, on, leg.airframe.category)


def _squawk(leg: Leg) -> str:
    if leg.airframe.military:
        return "7000"
    n = int(leg.airframe.icao24, 16)
    return "".join(str((n >> (3 * i)) & 7) for i in range(4))


def received(track: Track, dark: list[DarkWindow]) -> Track:
    """Samples inside :data:`COVERAGE`, outside the aircraft's transponder-off windows."""
    la0, lo0, la1, lo1 = COVERAGE
    m = (track.lat >= la0) & (track.lat <= la1) & (track.lon >= lo0) & (track.lon <= lo1)
    for w in dark:
        if w.icao24 == track.icao24:
            m &= ~((track.t >= w.t_off.timestamp()) & (track.t < w.t_on.timestamp()))
    return track.take(m)
