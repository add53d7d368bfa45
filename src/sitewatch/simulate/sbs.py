"""SBS-1 / BaseStation CSV writer (the port-30003 output of dump1090 and readsb).

Contract: :func:`sbs_lines` turns received :class:`~sitewatch.simulate.tracks.Track`
samples into BaseStation lines in time order, as dump1090 writes them: 22 fields,
``MSG,<type>,1,1,<HEX>,1,<date gen>,<time gen>,<date logged>,<time logged>,<callsign>,
<alt>,<gs>,<track>,<lat>,<lon>,<vrate>,<squawk>,<alert>,<emerg>,<spi>,<on ground>``,
flags ``0``/``-1``. Per sample: ``MSG,3`` (airborne position) or ``MSG,2`` (surface
position), then ``MSG,4`` (velocity); ``MSG,1`` (identification) every sixth sample and
``MSG,6`` (squawk) every twelfth.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import numpy as np

from sitewatch.simulate.tracks import Track


def _stamp(t: float) -> tuple[str, str]:
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y/%m/%d"), d.strftime("%H:%M:%S.") + f"{d.microsecond // 1000:03d}"


def _track_rows(tr: Track) -> Iterator[tuple[float, int, str]]:
    hexid = tr.icao24.upper()
    for i in range(len(tr)):
        t = float(tr.t[i])
        day, hms = _stamp(t)
        head = f"{hexid},1,{day},{hms},{day},{hms}"
        alt = int(tr.alt_ft[i])
        gs, trk, vr = int(tr.gs_kt[i]), float(tr.trk_deg[i]), int(tr.vr_fpm[i])
        lat, lon = float(tr.lat[i]), float(tr.lon[i])
        if bool(tr.onground[i]):
            yield t, 0, f"MSG,2,1,1,{head},,{alt},{gs},{trk:.1f},{lat:.5f},{lon:.5f},,,,,,-1"
        else:
            yield t, 0, f"MSG,3,1,1,{head},,{alt},,,{lat:.5f},{lon:.5f},,,0,0,0,0"
            yield t, 1, f"MSG,4,1,1,{head},,,{gs},{trk:.1f},,,{vr},,0,0,0,0"
        if i % 6 == 0:
            yield t, 2, f"MSG,1,1,1,{head},{tr.callsign:<8},,,,,,,,0,0,0,{-1 if tr.onground[i] else 0}"
        if i % 12 == 0:
            yield t, 3, f"MSG,6,1,1,{head},,,,,,,,{tr.squawk},0,0,0,{-1 if tr.onground[i] else 0}"


def sbs_lines(tracks: Iterable[Track]) -> list[str]:
    """All lines of all tracks, sorted by time (stable within one aircraft)."""
    rows = [r for tr in tracks for r in _track_rows(tr)]
    order = np.lexsort((np.array([r[1] for r in rows]), np.array([r[0] for r in rows])))
    return [rows[i][2] for i in order]
