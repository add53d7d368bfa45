"""Ship voyages → the AIS a coastal receiver near Tartus would log, as NMEA lines.

Contract: :func:`ais_lines` samples every :class:`~sitewatch.simulate.scenario.Voyage`
at class A reporting intervals (moored: every ``moored_s``; slow, below 3 kn: every
``slow_s``; under way: every ``moving_s``; the standard's own intervals are shorter, a
shore receiver's log is thinned by reception), adds GNSS noise of a few metres, and
emits type 1 position reports (type 3 when moored) plus a type 5 static report every
``static_s``. Lines are returned in time order as ``(t_unix, line)``.
"""

from __future__ import annotations

import numpy as np

from sitewatch import geo
from sitewatch.simulate.nmea import position_payloads, sentences, static_payload
from sitewatch.simulate.scenario import Voyage

SOURCE = "SIMULATED-tartus-shore"


def _sample_times(v: Voyage, moored_s: float, slow_s: float, moving_s: float) -> np.ndarray:
    out = []
    for a, b in zip(v.points[:-1], v.points[1:], strict=True):
        dur = (b[0] - a[0]).total_seconds()
        if dur <= 0:
            continue
        dist = float(geo.haversine_m(a[1], a[2], b[1], b[2]))
        kt = dist / dur / geo.KT_MS
        step = moored_s if a[3] == 5 else (slow_s if kt < 3 else moving_s)
        out.append(a[0].timestamp() + np.arange(0.0, dur, step))
    return np.concatenate(out) if out else np.zeros(0)


def ais_lines(voyages: list[Voyage], rng: np.random.Generator, moored_s: float = 360.0,
              slow_s: float = 180.0, moving_s: float = 30.0, static_s: float = 1800.0
              ) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    seq = 0
    for v in voyages:
        ts = _sample_times(v, moored_s, slow_s, moving_s)
        if ts.size == 0:
            continue
        ts = ts + rng.uniform(0, 5, ts.size)
        pt = np.array([p[0].timestamp() for p in v.points])
        lat = np.interp(ts, pt, [p[1] for p in v.points])
        lon = np.interp(ts, pt, [p[2] for p in v.points])
        k = np.clip(np.searchsorted(pt, ts, side="right") - 1, 0, len(pt) - 2)
        status = np.array([v.points[i][3] for i in k])
        a_lat, a_lon = np.array([v.points[i][1] for i in k]), np.array([v.points[i][2] for i in k])
        b_lat, b_lon = np.array([v.points[i + 1][1] for i in k]), np.array([v.points[i + 1][2] for i in k])
        dur = pt[k + 1] - pt[k]
        sog = geo.haversine_m(a_lat, a_lon, b_lat, b_lon) / np.maximum(dur, 1) / geo.KT_MS
        cog = geo.bearing_deg(a_lat, a_lon, b_lat, b_lon)
        noise_m = rng.normal(0, 4.0, (2, ts.size))
        lat = lat + noise_m[0] / 111_320.0
        lon = lon + noise_m[1] / (111_320.0 * np.cos(np.radians(lat)))
        mmsi = int(v.ship.mmsi)
        moored = status == 5
        speed = np.where(moored, 0.0, np.maximum(0.0, sog + rng.normal(0, 0.1, ts.size)))
        course = np.where(moored, np.nan, cog)
        seconds = (ts.astype(np.int64) % 60)
        payloads = position_payloads(mmsi, lat, lon, speed, course, course, status, seconds,
                                     np.where(moored, 3, 1))
        static = static_payload(mmsi, v.ship.imo, v.ship.callsign, v.ship.name, v.ship.ship_type,
                                v.ship.length_m, v.ship.beam_m, v.ship.draught_m, v.destination, None)
        next_static = ts[0]
        for i in range(ts.size):
            t = int(ts[i])
            rows += [(t, s) for s in sentences(payloads[i], 0, t, SOURCE)]
            if ts[i] >= next_static:
                rows += [(t, s) for s in sentences(*static, t, SOURCE, seq_id=seq % 10)]
                seq += 1
                next_static = ts[i] + static_s
    rows.sort(key=lambda r: r[0])
    return rows
