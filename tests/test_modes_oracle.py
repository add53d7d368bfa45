"""Our columnar decoder against pyModeS 3.6.1 (the oracle) on 57,793 real frames of one A321.

The flight (traffic's ``rs1090/full_flight_short.jsonl``, LFPG gate → LFBO gate) holds
surface and airborne positions, velocities, DF4/5/20/21 replies and identifications.
pyModeS's ``PipeDecoder`` is fed the same frames and times. The comparison is per frame,
except for positions: pyModeS copies a pair's position onto the *older* frame of the pair
too, so a pyModeS position is "reproduced" when our decoder has the same position
(≤ 1e-5°) for the same aircraft at that frame or at a frame ≤ 10 s away.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from tests.conftest import traffic

from sitewatch.modes import ModeSDecoder, from_hex

pyModeS = pytest.importorskip("pyModeS")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flight() -> dict[str, Any]:
    recs = [json.loads(line) for line in open(traffic("rs1090/full_flight_short.jsonl"))]
    frames = [r["frame"] for r in recs]
    ts = np.array([r["timestamp"] for r in recs])
    pipe = pyModeS.PipeDecoder(surface_ref="LFPG")
    theirs = [pipe.decode(f, timestamp=t) for f, t in zip(frames, ts, strict=True)]
    pipe.flush()
    msg, nb, reason = from_hex(frames)
    assert all(r is None for r in reason)
    dec = ModeSDecoder()
    # three chunks: state must carry across chunk borders
    parts = [dec.decode(msg[a:b], nb[a:b], ts[a:b]) for a, b in ((0, 20000), (20000, 41000), (41000, len(ts)))]
    from sitewatch.modes.decoder import Decoded

    ours = Decoded.concat(parts)
    return {"frames": frames, "ts": ts, "theirs": theirs, "ours": ours, "counters": dict(dec.counters)}


def test_every_pymodes_position_is_reproduced(flight: dict[str, Any]) -> None:
    ours, theirs, ts = flight["ours"], flight["theirs"], flight["ts"]
    have = np.flatnonzero(~np.isnan(ours.lat))
    n_theirs = same_frame = 0
    for k, o in enumerate(theirs):
        if o.get("latitude") is None:
            continue
        n_theirs += 1
        if not np.isnan(ours.lat[k]) and abs(ours.lat[k] - o["latitude"]) <= 1e-5 \
                and abs(ours.lon[k] - o["longitude"]) <= 1e-5:
            same_frame += 1
            continue
        near = have[np.abs(ts[have] - ts[k]) <= 10.0]
        near = near[ours.icao[near] == int(o["icao"], 16)]
        err = np.abs(ours.lat[near] - o["latitude"]) + np.abs(ours.lon[near] - o["longitude"])
        assert err.size and err.min() <= 1e-5, f"frame {k}: pyModeS {o['latitude']},{o['longitude']} not found"
    assert n_theirs == 8324
    # most frames agree frame for frame; the rest are pyModeS's retro-filled older halves
    # measured: 2,939 of 8,324 on the same frame, all 8,324 within 10 s
    assert same_frame >= 0.3 * n_theirs
    assert have.size >= n_theirs
    # surface positions at both airports (LFPG start, LFBO end) were decoded
    surf = ours.pos_kind >= 3
    assert surf.sum() > 1000
    assert abs(ours.lat[surf][0] - 49.0) < 0.05 and abs(ours.lat[surf][-1] - 43.63) < 0.05
    assert flight["counters"].get("jump_rejected", 0) == 0


def test_velocity_altitude_squawk_callsign_match(flight: dict[str, Any]) -> None:
    ours, theirs = flight["ours"], flight["theirs"]
    n = {"gs": 0, "vr": 0, "alt": 0, "sq": 0, "cs": 0}
    for k, o in enumerate(theirs):
        df, bds = o.get("df"), o.get("bds")
        if df in (17, 18) and o.get("typecode") == 19 and o.get("groundspeed") is not None:
            n["gs"] += 1
            # pyModeS truncates ground speed to an integer; we keep the exact norm
            assert int(ours.speed_kt[k]) == o["groundspeed"], k
            assert abs(ours.track_deg[k] - o["track"]) < 1e-9, k
        if df in (17, 18) and o.get("typecode") == 19 and o.get("vertical_rate") is not None:
            n["vr"] += 1
            assert ours.vrate_fpm[k] == o["vertical_rate"], k
        if df in (17, 18) and bds == "0,6" and o.get("groundspeed") is not None:
            assert ours.speed_kt[k] == o["groundspeed"] and (o.get("track") is None
                                                              or ours.track_deg[k] == o["track"]), k
        if o.get("altitude") is not None and (df in (4, 20) or (df == 17 and bds == "0,5")):
            if o.get("altitude_mismatch"):
                continue  # pyModeS refused this DF20 as a CRC collision
            n["alt"] += 1
            assert ours.alt_ft[k] == o["altitude"], k
        if o.get("squawk") is not None and df in (5, 21):
            n["sq"] += 1
            assert f"{ours.squawk[k]:04o}" == o["squawk"], k
        if o.get("callsign") and (df in (17, 18) or bds == "2,0"):
            n["cs"] += 1
            assert ours.callsign[k] == o["callsign"], (k, ours.callsign[k], o["callsign"])
    assert min(n.values()) > 100, n
