"""AIS encoder: ``!AIVDM`` sentences for message types 1/3 (position) and 5 (static data).

Contract: :func:`position_payload` and :func:`static_payload` pack the fields of ITU-R
M.1371 messages 1/3 (168 bits) and 5 (424 bits) into 6-bit armoured payloads;
:func:`sentences` splits a payload into NMEA 0183 sentences (at most 60 payload
characters each, with sequence id and fill bits) with their XOR checksums, each
preceded by an NMEA 4.0 tag block ``\\s:<source>,c:<unix time>*hh\\`` carrying the
receive time, as AIS-catcher and most loggers write it.

Bit layout of message 1/3 (widths): type 6, repeat 2, mmsi 30, status 4, rot 8 (signed,
-128 n/a), sog 10 (0.1 kn), accuracy 1, lon 28 (signed 1/10000'), lat 27 (signed
1/10000'), cog 12 (0.1°), heading 9, second 6, manoeuvre 2, spare 3, raim 1, radio 19.
Message 5: type 6, repeat 2, mmsi 30, version 2, imo 30, callsign 42 (7 chars), name 120
(20 chars), ship type 8, to bow 9, to stern 9, to port 6, to starboard 6, epfd 4,
ETA month 4 / day 5 / hour 5 / minute 6, draught 8 (0.1 m), destination 120, dte 1, spare 1.
"""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from operator import xor

import numpy as np

from sitewatch.errors import InputError

_ARMOUR = [chr(v + 48 if v < 40 else v + 56) for v in range(64)]


class _Bits:
    """Big-endian bit accumulator held as one Python integer."""

    def __init__(self) -> None:
        self.value = 0
        self.width = 0

    def u(self, value: int, width: int) -> _Bits:
        if value < 0 or value >= 1 << width:
            raise InputError(f"AIS field value {value} does not fit in {width} unsigned bits")
        self.value = (self.value << width) | value
        self.width += width
        return self

    def s(self, value: int, width: int) -> _Bits:
        if not -(1 << (width - 1)) <= value < 1 << (width - 1):
            raise InputError(f"AIS field value {value} does not fit in {width} signed bits")
        return self.u(value & ((1 << width) - 1), width)

    def text(self, value: str, chars: int) -> _Bits:
        v = value.upper()[:chars].ljust(chars, "@")
        for c in v:
            o = ord(c)
            if not 32 <= o <= 95:
                raise InputError(f"character {c!r} cannot be sent in AIS 6-bit text")
            self.u(o - 64 if o >= 64 else o, 6)
        return self

    def armour(self) -> tuple[str, int]:
        fill = (-self.width) % 6
        v = self.value << fill
        n = (self.width + fill) // 6
        return "".join(_ARMOUR[(v >> (6 * (n - 1 - i))) & 63] for i in range(n)), fill


def position_payload(mmsi: int, lat: float, lon: float, sog_kt: float | None, cog_deg: float | None,
                     heading_deg: int | None, status: int, second: int, msg_type: int = 1) -> tuple[str, int]:
    """Armoured payload and fill bits of a class A position report (type 1, 2 or 3)."""
    if msg_type not in (1, 2, 3):
        raise InputError(f"class A position reports are types 1-3, not {msg_type}")
    b = _Bits().u(msg_type, 6).u(0, 2).u(mmsi, 30).u(status, 4).s(-128, 8)
    b.u(1023 if sog_kt is None else min(1022, round(sog_kt * 10)), 10).u(1, 1)
    b.s(round(lon * 600000), 28).s(round(lat * 600000), 27)
    b.u(3600 if cog_deg is None else round(cog_deg * 10) % 3600, 12)
    b.u(511 if heading_deg is None else heading_deg % 360, 9).u(second, 6).u(0, 2).u(0, 3).u(0, 1).u(0, 19)
    return b.armour()


def position_payloads(mmsi: int, lat: np.ndarray, lon: np.ndarray, sog_kt: np.ndarray, cog_deg: np.ndarray,
                      heading_deg: np.ndarray, status: np.ndarray, second: np.ndarray, msg_type: np.ndarray
                      ) -> list[str]:
    """Vectorised :func:`position_payload` for one ship: NaN speed/course/heading = not available."""
    n = lat.size
    sog = np.where(np.isnan(sog_kt), 1023, np.minimum(1022, np.round(np.nan_to_num(sog_kt) * 10))).astype(np.int64)
    cog = np.where(np.isnan(cog_deg), 3600, np.round(np.nan_to_num(cog_deg) * 10) % 3600).astype(np.int64)
    hdg = np.where(np.isnan(heading_deg), 511, np.round(np.nan_to_num(heading_deg)) % 360).astype(np.int64)
    fields = [(msg_type.astype(np.int64), 6), (np.zeros(n, np.int64), 2), (np.full(n, mmsi, np.int64), 30),
              (status.astype(np.int64), 4), (np.full(n, 128, np.int64), 8), (sog, 10), (np.ones(n, np.int64), 1),
              (np.round(lon * 600000).astype(np.int64) & ((1 << 28) - 1), 28),
              (np.round(lat * 600000).astype(np.int64) & ((1 << 27) - 1), 27), (cog, 12), (hdg, 9),
              (second.astype(np.int64), 6), (np.zeros(n, np.int64), 2 + 3 + 1 + 19)]
    bits = np.concatenate([(v[:, None] >> np.arange(w - 1, -1, -1)) & 1 for v, w in fields], axis=1)
    six = bits.reshape(n, 28, 6) @ np.array([32, 16, 8, 4, 2, 1])
    chars = np.where(six < 40, six + 48, six + 56).astype(np.uint8)
    return [row.tobytes().decode("ascii") for row in chars]


def static_payload(mmsi: int, imo: int, callsign: str, name: str, ship_type: int, length_m: float,
                   beam_m: float, draught_m: float, destination: str, eta: datetime | None) -> tuple[str, int]:
    """Armoured payload and fill bits of a type 5 static and voyage report (424 bits)."""
    bow = round(length_m * 0.55)
    port = round(beam_m / 2)
    b = _Bits().u(5, 6).u(0, 2).u(mmsi, 30).u(0, 2).u(imo, 30).text(callsign, 7).text(name, 20)
    b.u(ship_type, 8).u(min(bow, 511), 9).u(min(round(length_m) - bow, 511), 9)
    b.u(min(port, 63), 6).u(min(round(beam_m) - port, 63), 6).u(1, 4)
    if eta is None:
        b.u(0, 4).u(0, 5).u(24, 5).u(60, 6)
    else:
        b.u(eta.month, 4).u(eta.day, 5).u(eta.hour, 5).u(eta.minute, 6)
    b.u(min(round(draught_m * 10), 255), 8).text(destination, 20).u(0, 1).u(0, 1)
    return b.armour()


def checksum(body: str) -> str:
    """NMEA XOR checksum of the characters between the start mark and ``*``."""
    return f"{reduce(xor, body.encode('ascii'), 0):02X}"


def sentences(payload: str, fill: int, t_unix: int, source: str, seq_id: int | None = None,
              channel: str = "A") -> list[str]:
    """The payload as tag-blocked ``!AIVDM`` lines (one, or several with ``seq_id``)."""
    parts = [payload[i:i + 60] for i in range(0, len(payload), 60)] or [""]
    tag = f"s:{source},c:{t_unix}"
    tag_block = f"\\{tag}*{checksum(tag)}\\"
    out = []
    n = len(parts)
    if n > 1 and seq_id is None:
        raise InputError("a multi-sentence message needs a sequence id (0-9)")
    for i, p in enumerate(parts, 1):
        body = f"AIVDM,{n},{i},{'' if n == 1 else seq_id},{channel},{p},{fill if i == n else 0}"
        out.append(f"{tag_block}!{body}*{checksum(body)}")
    return out
