"""Lookup tables built once at import, so every field decode is one NumPy gather.

* :data:`ALTITUDE_FT` — the 13-bit Mode S altitude code (AC: C1 A1 C2 A2 C4 A4 M B1 Q B2
  D2 B4 D4) → feet, NaN where invalid/unknown; Q=1 is 25 ft linear, Q=0 Gillham (100 ft),
  M=1 metres: the 12 bits other than M are the height in metres, converted to whole feet
  (``int(m * 3.28084)``, as pyModeS 2.x's ``altitude``/``altcode``; pyModeS 3 returns
  None). ICAO Annex 10 Vol IV §3.1.2.6.5.4.
* :data:`SQUAWK` — the 13-bit identity code (C1 A1 C2 A2 C4 A4 X B1 D1 B2 D2 B4 D4) → the
  Mode A code as an int whose octal digits are ABCD (e.g. 0o7700).
* :data:`CALLSIGN_CHARS` — the 6-bit ICAO character set (``#`` = invalid).
* :data:`MOVEMENT_KT` — surface movement (7 bits) → ground speed, kt (NaN = no info).
* :data:`NL_BOUNDARIES` — latitudes where the CPR longitude-zone count NL steps down
  (DO-260B §A.1.7.2, NZ = 15), for a ``searchsorted`` NL.
"""

from __future__ import annotations

import math

import numpy as np

FT_PER_M = 3.28084


def _gray_to_int(n: int) -> int:
    n ^= n >> 8
    n ^= n >> 4
    n ^= n >> 2
    n ^= n >> 1
    return n


def _altitude(ac: int) -> float:
    if ac == 0:
        return math.nan
    m_bit = (ac >> 6) & 1
    q_bit = (ac >> 4) & 1
    if m_bit:  # metres: the 12 bits without M, binary
        return float(int((((ac >> 7) << 6) | (ac & 0x3F)) * FT_PER_M))
    if q_bit:
        n = ((ac >> 2) & 0x7E0) | ((ac >> 1) & 0x10) | (ac & 0xF)
        return float(n * 25 - 1000)

    def b(pos: int) -> int:
        return (ac >> (12 - pos)) & 1

    c1, a1, c2, a2, c4, a4 = b(0), b(1), b(2), b(3), b(4), b(5)
    b1, b2, d2, b4, d4 = b(7), b(9), b(10), b(11), b(12)
    gc500 = (d2 << 7) | (d4 << 6) | (a1 << 5) | (a2 << 4) | (a4 << 3) | (b1 << 2) | (b2 << 1) | b4
    gc100 = (c1 << 2) | (c2 << 1) | c4
    n500 = _gray_to_int(gc500)
    n100 = _gray_to_int(gc100)
    if n100 in (0, 5, 6):
        return math.nan
    if n100 == 7:
        n100 = 5
    if n500 % 2:
        n100 = 6 - n100
    return float(n500 * 500 + n100 * 100 - 1300)


def _squawk(idcode: int) -> int:
    def bit(pos: int) -> int:
        return (idcode >> (12 - pos)) & 1

    a = (bit(5) << 2) | (bit(3) << 1) | bit(1)
    b = (bit(11) << 2) | (bit(9) << 1) | bit(7)
    c = (bit(4) << 2) | (bit(2) << 1) | bit(0)
    d = (bit(12) << 2) | (bit(10) << 1) | bit(8)
    return (a << 9) | (b << 6) | (c << 3) | d


def _movement(mov: int) -> float:
    if mov == 0 or mov > 124:
        return math.nan
    if mov == 1:
        return 0.0
    if mov == 124:
        return 175.0
    lower = (2, 9, 13, 39, 94, 109, 124)
    kts = (0.125, 1.0, 2.0, 15.0, 70.0, 100.0, 175.0)
    step = (0.125, 0.25, 0.5, 1.0, 2.0, 5.0)
    i = next(k for k, lb in enumerate(lower) if lb > mov)
    return kts[i - 1] + (mov - lower[i - 1]) * step[i - 1]


def _nl_boundaries() -> np.ndarray:
    nz = 15
    a = 1 - math.cos(math.pi / (2 * nz))
    out = []
    for k in range(59, 1, -1):
        cos_sq = a / (1 - math.cos(2 * math.pi / k))
        out.append((180 / math.pi) * math.acos(cos_sq**0.5))
    out[-1] = 87.0  # NL=2→1 is defined at exactly 87 degrees
    return np.array(out, dtype=np.float64)


ALTITUDE_FT: np.ndarray = np.array([_altitude(i) for i in range(8192)], dtype=np.float64)
SQUAWK: np.ndarray = np.array([_squawk(i) for i in range(8192)], dtype=np.int32)
CALLSIGN_CHARS: str = "".join(
    chr(i | 0x40) if 1 <= i <= 26 else chr(i) if i == 32 or 48 <= i <= 57 else "#" for i in range(64)
)
MOVEMENT_KT: np.ndarray = np.array([_movement(i) for i in range(128)], dtype=np.float64)
NL_BOUNDARIES: np.ndarray = _nl_boundaries()


def nl(lat: np.ndarray) -> np.ndarray:
    """Number of CPR longitude zones at each latitude (1..59), vectorised."""
    a = np.abs(lat)
    out = 59 - np.searchsorted(NL_BOUNDARIES, a, side="right")
    out = np.where(a == 87.0, 2, out)
    return np.where(a > 87.0, 1, out).astype(np.int64)
