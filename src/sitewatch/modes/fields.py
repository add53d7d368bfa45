"""Stateless Mode S field decoding on columns of frames (one NumPy pass per field).

Bit layout of a 112-bit extended squitter (DF17/18), bits numbered from 1 as in the spec::

    1-5 DF | 6-8 CA/CF | 9-32 AA (ICAO address) | 33-88 ME (56 bits) | 89-112 PI (parity)
    ME 1-5: type code TC

    TC 1-4   identification: 6-8 category, 9-56 eight 6-bit characters
    TC 5-8   surface position: 6-12 movement, 13 track valid, 14-20 track, 22 F, 23-39 lat, 40-56 lon
    TC 9-18  airborne position, barometric altitude: 9-20 altitude (Q at 16), 22 F, 23-39 lat, 40-56 lon
    TC 20-22 airborne position, GNSS height (metres)
    TC 19    velocity: 6-8 subtype; 1/2 ground speed E/W, N/S; 3/4 heading + IAS/TAS;
             36 vrate source, 37 sign, 38-46 vertical rate (64 ft/min)
    TC 28    aircraft status, subtype 1: 9-11 emergency state, 12-24 Mode A code

Short surveillance replies (DF4/20: altitude code, DF5/21: identity) keep their 13-bit
field in bits 20-32. Every function returns arrays aligned with its input rows; values
that are absent or invalid are NaN (floats) or -1 (ints).
"""

from __future__ import annotations

import numpy as np

from sitewatch.modes._tables import ALTITUDE_FT, CALLSIGN_CHARS, MOVEMENT_KT, SQUAWK

_CHARS = np.array(list(CALLSIGN_CHARS), dtype="<U1")
_CATEGORY_SET = {1: "D", 2: "C", 3: "B", 4: "A"}  # DO-260B: TC 4 = set A … TC 1 = set D


def header(msg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(df, ca, aa)``: downlink format, CA/CF field, address field (bits 9-32) of each row."""
    df = (msg[:, 0] >> 3).astype(np.int16)
    df = np.where(df >= 24, 24, df)  # DF24 is "11" followed by anything
    ca = (msg[:, 0] & 7).astype(np.int16)
    aa = (msg[:, 1].astype(np.uint32) << 16) | (msg[:, 2].astype(np.uint32) << 8) | msg[:, 3]
    return df, ca, aa


def me_field(msg: np.ndarray) -> np.ndarray:
    """The 56-bit ME field (bytes 5-11) of each row as uint64."""
    me = np.zeros(msg.shape[0], dtype=np.uint64)
    for k in range(7):
        me = (me << np.uint64(8)) | msg[:, 4 + k].astype(np.uint64)
    return me


def bits(me: np.ndarray, first: int, width: int) -> np.ndarray:
    """ME bits ``first``..``first+width-1`` (1-based, as in the spec) as int64."""
    shift = np.uint64(56 - (first - 1) - width)
    return ((me >> shift) & np.uint64((1 << width) - 1)).astype(np.int64)


def typecode(me: np.ndarray) -> np.ndarray:
    return bits(me, 1, 5)


def identification(me: np.ndarray, tc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Callsigns (stripped; ``#`` marks invalid characters) and categories like ``"A3"``."""
    n = me.shape[0]
    idx = np.stack([bits(me, 9 + 6 * k, 6) for k in range(8)], axis=1) if n else np.zeros((0, 8), np.int64)
    chars = _CHARS[idx]
    joined = np.ascontiguousarray(chars).view("<U8").reshape(n)
    callsign = np.char.strip(joined)
    cat = bits(me, 6, 3)
    sets = np.array([_CATEGORY_SET.get(int(t), "") for t in range(32)], dtype="<U1")[tc]
    category = np.char.add(sets, cat.astype("<U1"))
    category = np.where((cat == 0) | (sets == ""), "", category)
    return callsign.astype(object), category.astype(object)


def airborne_position(me: np.ndarray, tc: np.ndarray) -> dict[str, np.ndarray]:
    """Altitude (ft) and CPR fields of TC 9-18 / 20-22 rows."""
    ac = bits(me, 9, 12)
    code13 = ((ac >> 6) << 7) | (ac & 0x3F)  # insert M = 0 to reuse the 13-bit table
    baro = ALTITUDE_FT[code13]
    gnss = np.floor(ac * 3.28084)  # GNSS height is in metres
    alt = np.where((tc >= 9) & (tc <= 18), baro, np.where((tc >= 20) & (tc <= 22), gnss, np.nan))
    return {"alt_ft": alt, "fmt": bits(me, 22, 1), "lat_cpr": bits(me, 23, 17), "lon_cpr": bits(me, 40, 17)}


def surface_position(me: np.ndarray) -> dict[str, np.ndarray]:
    """Ground speed (kt), track (deg) and CPR fields of TC 5-8 rows."""
    mov = bits(me, 6, 7)
    trk_ok = bits(me, 13, 1) == 1
    trk = np.where(trk_ok, bits(me, 14, 7) * 360.0 / 128.0, np.nan)
    return {"speed_kt": MOVEMENT_KT[mov], "track_deg": trk, "fmt": bits(me, 22, 1),
            "lat_cpr": bits(me, 23, 17), "lon_cpr": bits(me, 40, 17)}


def velocity(me: np.ndarray) -> dict[str, np.ndarray]:
    """TC 19: ground speed/track (subtypes 1-2), heading/airspeed (3-4), vertical rate.

    Ground speed is the exact vector norm in kt (pyModeS truncates it to an integer).
    """
    st = bits(me, 6, 3)
    s_ew, v_ew = bits(me, 14, 1), bits(me, 15, 10)
    s_ns, v_ns = bits(me, 25, 1), bits(me, 26, 10)
    gs_rows = ((st == 1) | (st == 2)) & (v_ew > 0) & (v_ns > 0)
    scale = np.where(st == 2, 4.0, 1.0)
    vx = np.where(s_ew == 1, -1.0, 1.0) * (v_ew - 1) * scale
    vy = np.where(s_ns == 1, -1.0, 1.0) * (v_ns - 1) * scale
    gs = np.where(gs_rows, np.sqrt(vx * vx + vy * vy), np.nan)
    trk = np.degrees(np.arctan2(vx, vy))
    trk = np.where(trk < 0, trk + 360.0, trk)
    trk = np.where(gs_rows, trk, np.nan)
    as_rows = (st == 3) | (st == 4)
    hdg = np.where(as_rows & (s_ew == 1), v_ew / 1024.0 * 360.0, np.nan)
    asp = np.where(as_rows & (v_ns > 0), (v_ns - 1) * np.where(st == 4, 4.0, 1.0), np.nan)
    vr_sign, vr = bits(me, 37, 1), bits(me, 38, 9)
    vrate = np.where(vr > 0, np.where(vr_sign == 1, -1.0, 1.0) * (vr - 1) * 64.0, np.nan) + 0.0  # no -0.0
    return {"speed_kt": gs, "track_deg": trk, "heading_deg": hdg, "airspeed_kt": asp,
            "airspeed_tas": (bits(me, 25, 1) == 1) & as_rows, "vrate_fpm": vrate, "subtype": st}


def surveillance_field(msg: np.ndarray) -> np.ndarray:
    """The 13-bit AC/ID field (bits 20-32) of DF0/4/5/16/20/21 rows."""
    return (((msg[:, 2].astype(np.int64) << 8) | msg[:, 3]) & 0x1FFF).astype(np.int64)


def altitude_code(code13: np.ndarray) -> np.ndarray:
    """13-bit altitude code → feet (NaN when unknown; metric codes converted from metres)."""
    return ALTITUDE_FT[code13]


def squawk_code(code13: np.ndarray) -> np.ndarray:
    """13-bit identity → Mode A code as int (octal digits ABCD), e.g. 0o7700."""
    return SQUAWK[code13]
