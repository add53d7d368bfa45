"""Mode S / ADS-B encoder: DF17 extended squitters with CRC-24, and the Beast framing.

Contract: each ``*_me`` function packs one ADS-B message's 56-bit ME field (an int);
:func:`df17` wraps it with DF 17, capability 5, the ICAO address and the CRC-24 parity
into 14 bytes; :func:`beast_frame` wraps a frame for the Beast binary protocol. Frames
decode with pyModeS (the tests' oracle) to the encoded values within their quanta.

Layouts (bits, most significant first), from ICAO Doc 9871 / "The 1090 MHz Riddle"::

    DF17   DF 5 | CA 3 | AA 24 | ME 56 | PI 24
    TC 4   TC 5 | CAT 3 | 8 × 6-bit characters                      identification
    TC 11  TC 5 | SS 2 | SAF 1 | ALT 12 | T 1 | F 1 | LAT 17 | LON 17  airborne position
    TC 6   TC 5 | MOV 7 | S 1 | TRK 7 | T 1 | F 1 | LAT 17 | LON 17   surface position
    TC 19  TC 5 | ST 3 = 1 | IC 1 | IFR 1 | NUCv 3 | Dew 1 | Vew 10 | Dns 1 | Vns 10 |
           VrSrc 1 | Svr 1 | VR 9 | 00 | SDif 1 | dAlt 7             velocity over ground

CPR (compact position reporting) with 17-bit resolution: ``Dlat = 360/(60 - i)``
(airborne) or ``90/(60 - i)`` (surface) for even ``i = 0`` / odd ``i = 1`` frames,
``Dlon = 360/max(NL(lat) - i, 1)`` (``90/…`` on the surface).

Beast: ``0x1a``, type ``'3'`` (long frame), 6-byte 12 MHz counter, 1-byte signal,
14 frame bytes; every ``0x1a`` after the start mark is sent twice.
"""

from __future__ import annotations

import math

from sitewatch.errors import InputError

_GENERATOR = 0x1FFF409  # CRC-24 polynomial of Mode S (x^24 + … + 1), with its leading bit
_CHARSET = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"


def crc24(data: bytes) -> int:
    """Mode S parity of ``data`` (all bits but the last 24 of a frame)."""
    reg = int.from_bytes(data, "big") << 24
    nbits = len(data) * 8 + 24
    for i in range(nbits - 1, 23, -1):
        if reg >> i & 1:
            reg ^= _GENERATOR << (i - 24)
    return reg & 0xFFFFFF


def df17(icao24: str, me: int, ca: int = 5) -> bytes:
    """A 112-bit DF17 frame: DF, CA, address, ME and its parity."""
    aa = int(icao24, 16)
    if not 0 <= aa < 1 << 24:
        raise InputError(f"ICAO address {icao24!r} is not 24-bit hex")
    head = ((17 << 3 | ca) << 24 | aa) << 56 | me
    body = head.to_bytes(11, "big")
    return body + crc24(body).to_bytes(3, "big")


def ident_me(callsign: str, category: int = 5, tc: int = 4) -> int:
    """Aircraft identification (TC 1-4; TC 4 set A, category 5 = heavy > 300,000 lb)."""
    cs = callsign.upper().ljust(8)[:8]
    me = tc << 3 | category
    for c in cs:
        idx = _CHARSET.find(c) if c != "#" else -1
        if idx < 0:
            raise InputError(f"character {c!r} is not allowed in a callsign")
        me = me << 6 | idx
    return me


def _alt12(alt_ft: float) -> int:
    n = round((alt_ft + 1000) / 25)
    if not 0 <= n < 1 << 11:
        raise InputError(f"altitude {alt_ft} ft is outside the 25 ft coding range")
    return (n & 0x7F0) << 1 | 0x10 | (n & 0xF)


def nl(lat: float) -> int:
    """Number of longitude zones at ``lat`` (the closed form of the CPR NL table)."""
    if abs(lat) >= 87.0:
        return 1 if abs(lat) > 87.0 else 2
    if lat == 0:
        return 59
    a = 1 - math.cos(math.pi / 30)
    b = math.cos(math.pi / 180 * abs(lat)) ** 2
    return math.floor(2 * math.pi / math.acos(1 - a / b))


def cpr(lat: float, lon: float, odd: bool, surface: bool = False) -> tuple[int, int]:
    """17-bit CPR (YZ, XZ) of a position for an even or odd frame."""
    i = 1 if odd else 0
    span = 90.0 if surface else 360.0
    dlat = span / (60 - i)
    yz = math.floor(2**17 * ((lat % dlat) / dlat) + 0.5)
    rlat = dlat * (yz / 2**17 + math.floor(lat / dlat))
    dlon = span / max(nl(rlat) - i, 1)
    xz = math.floor(2**17 * ((lon % dlon) / dlon) + 0.5)
    return yz & 0x1FFFF, xz & 0x1FFFF


def airborne_position_me(lat: float, lon: float, alt_ft: float, odd: bool, tc: int = 11) -> int:
    yz, xz = cpr(lat, lon, odd)
    return ((((tc << 2 | 0) << 1 | 0) << 12 | _alt12(alt_ft)) << 2 | (1 if odd else 0)) << 34 | yz << 17 | xz


def _movement(gs_kt: float) -> int:
    """Surface movement code for a ground speed (ICAO quantisation bands)."""
    bands = ((0.125, 2, 0.125, 1.0), (1.0, 9, 0.25, 2.0), (2.0, 13, 0.5, 15.0), (15.0, 39, 1.0, 70.0),
             (70.0, 94, 2.0, 100.0), (100.0, 109, 5.0, 175.0))
    if gs_kt < 0.125:
        return 1
    for lo, code0, step, hi in bands:
        if gs_kt < hi:
            return code0 + int((gs_kt - lo) // step)
    return 124


def surface_position_me(lat: float, lon: float, gs_kt: float, track_deg: float, odd: bool, tc: int = 6) -> int:
    yz, xz = cpr(lat, lon, odd, surface=True)
    trk = round(track_deg * 128 / 360) % 128
    return ((((tc << 7 | _movement(gs_kt)) << 1 | 1) << 7 | trk) << 2 | (1 if odd else 0)) << 34 | yz << 17 | xz


def velocity_me(gs_kt: float, track_deg: float, vr_fpm: float) -> int:
    """Airborne velocity, subtype 1 (subsonic ground speed components)."""
    t = math.radians(track_deg)
    vew, vns = gs_kt * math.sin(t), gs_kt * math.cos(t)
    ew, ns = min(round(abs(vew)), 1022), min(round(abs(vns)), 1022)
    vr = min(round(abs(vr_fpm) / 64), 510)
    me = 19 << 3 | 1
    me = me << 1 | 0  # intent change
    me = me << 1 | 0  # IFR capability
    me = me << 3 | 0  # NUCv / NACv
    me = (me << 1 | (1 if vew < 0 else 0)) << 10 | (ew + 1)
    me = (me << 1 | (1 if vns < 0 else 0)) << 10 | (ns + 1)
    me = me << 1 | 1  # vertical rate source: barometric
    me = (me << 1 | (1 if vr_fpm < 0 else 0)) << 9 | (vr + 1)
    me = me << 2 | 0
    return me << 8 | 0  # no geometric-barometric difference


def beast_frame(frame: bytes, counter_12mhz: int, signal: int = 0x80) -> bytes:
    """Beast binary record for a 7- or 14-byte frame with its 48-bit 12 MHz counter."""
    kind = {7: b"2", 14: b"3"}.get(len(frame))
    if kind is None:
        raise InputError(f"a Mode S frame has 7 or 14 bytes, not {len(frame)}")
    if not 0 <= counter_12mhz < 1 << 48:
        raise InputError(f"Beast timestamp {counter_12mhz} does not fit in 48 bits")
    body = counter_12mhz.to_bytes(6, "big") + bytes([signal]) + frame
    return b"\x1a" + kind + body.replace(b"\x1a", b"\x1a\x1a")
