"""Tracks → a Beast binary file, encoded column-wise (the per-frame encoder is in :mod:`.modes`).

Contract: :func:`track_frames` turns one :class:`~sitewatch.simulate.tracks.Track`
into DF17 frames with their times: per sample an even CPR position frame at ``t`` and
an odd one 0.5 s later (airborne TC 11, or surface TC 6 on the ground), an airborne
velocity frame at ``t + 0.25 s``, and an identification frame every sixth sample.
:func:`write_beast` writes every track's frames in time order as Beast records whose
12 MHz counter counts from the first frame (ingest with ``--start`` set to its time).
The NumPy encoders give the same bytes as :mod:`.modes` (a test checks it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sitewatch.simulate import modes
from sitewatch.simulate.tracks import Track

U64 = NDArray[np.uint64]
F = NDArray[np.float64]


def _crc_table() -> NDArray[np.uint32]:
    t = np.zeros(256, np.uint32)
    for b in range(256):
        c = b << 16
        for _ in range(8):
            c = ((c << 1) ^ 0xFFF409) if c & 0x800000 else c << 1
        t[b] = c & 0xFFFFFF
    return t


_TABLE = _crc_table()


def crc24_rows(data: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """CRC-24 of each row of an (N, 11) byte array (table-driven, byte at a time)."""
    crc = np.zeros(data.shape[0], np.uint32)
    for k in range(data.shape[1]):
        idx = ((crc >> 16) ^ data[:, k]) & 0xFF
        crc = ((crc << 8) & 0xFFFFFF) ^ _TABLE[idx]
    return crc


def _nl(lat: F) -> NDArray[np.int64]:
    a = 1 - np.cos(np.pi / 30)
    b = np.cos(np.radians(np.abs(lat))) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.floor(2 * np.pi / np.arccos(1 - a / b))
    n = np.where(lat == 0, 59, n)
    n = np.where(np.abs(lat) >= 87, np.where(np.abs(lat) > 87, 1, 2), n)
    return n.astype(np.int64)


def cpr_rows(lat: F, lon: F, odd: NDArray[np.bool_], surface: bool) -> tuple[U64, U64]:
    i = odd.astype(np.int64)
    span = 90.0 if surface else 360.0
    dlat = span / (60 - i)
    yz = np.floor(2**17 * (np.mod(lat, dlat) / dlat) + 0.5)
    rlat = dlat * (yz / 2**17 + np.floor(lat / dlat))
    dlon = span / np.maximum(_nl(rlat) - i, 1)
    xz = np.floor(2**17 * (np.mod(lon, dlon) / dlon) + 0.5)
    return (yz.astype(np.uint64) & np.uint64(0x1FFFF)), (xz.astype(np.uint64) & np.uint64(0x1FFFF))


def _u(x: NDArray[np.generic] | int) -> U64:
    return np.asarray(x).astype(np.uint64)


def _sh(x: U64, n: int) -> U64:
    return x << np.uint64(n)


def airborne_rows(lat: F, lon: F, alt_ft: F, odd: NDArray[np.bool_]) -> U64:
    n = np.round((alt_ft + 1000) / 25).astype(np.int64)
    alt12 = _u(((n & 0x7F0) << 1) | 0x10 | (n & 0xF))
    yz, xz = cpr_rows(lat, lon, odd, surface=False)
    me = _sh(_u(11 << 3), 12) | alt12
    return _sh(_sh(me, 2) | _u(odd), 34) | _sh(yz, 17) | xz


def surface_rows(lat: F, lon: F, gs_kt: F, trk_deg: F, odd: NDArray[np.bool_]) -> U64:
    mov = _u(np.array([modes._movement(float(v)) for v in gs_kt], dtype=np.int64))
    trk = _u(np.round(trk_deg * 128 / 360).astype(np.int64) % 128)
    yz, xz = cpr_rows(lat, lon, odd, surface=True)
    me = _sh(_sh(_sh(_u(6), 7) | mov, 1) | _u(1), 7) | trk
    return _sh(_sh(me, 2) | _u(odd), 34) | _sh(yz, 17) | xz


def velocity_rows(gs_kt: F, trk_deg: F, vr_fpm: F) -> U64:
    t = np.radians(trk_deg)
    vew, vns = gs_kt * np.sin(t), gs_kt * np.cos(t)
    ew = _u(np.minimum(np.round(np.abs(vew)), 1022).astype(np.int64) + 1)
    ns = _u(np.minimum(np.round(np.abs(vns)), 1022).astype(np.int64) + 1)
    vr = _u(np.minimum(np.round(np.abs(vr_fpm) / 64), 510).astype(np.int64) + 1)
    me = _sh(_u(19 << 3 | 1), 5)  # + IC, IFR, NUCv = 0
    me = _sh(_sh(me, 1) | _u(vew < 0), 10) | ew
    me = _sh(_sh(me, 1) | _u(vns < 0), 10) | ns
    me = _sh(_sh(_sh(me, 1) | _u(1), 1) | _u(vr_fpm < 0), 9) | vr
    return _sh(me, 10)


def frames_rows(icao24: str, me: U64) -> NDArray[np.uint8]:
    """(N, 14) DF17 frames for one address."""
    n = me.size
    head = np.frombuffer(((17 << 3 | 5) << 24 | int(icao24, 16)).to_bytes(4, "big"), np.uint8)
    me_bytes = ((me[:, None] >> (np.arange(6, -1, -1, dtype=np.uint64) * np.uint64(8))) & np.uint64(0xFF)
                ).astype(np.uint8)
    body = np.concatenate([np.broadcast_to(head, (n, 4)), me_bytes], axis=1)
    crc = crc24_rows(body)
    pi = ((crc[:, None] >> np.array([16, 8, 0], np.uint32)) & 0xFF).astype(np.uint8)
    return np.concatenate([body, pi], axis=1)


def track_frames(tr: Track) -> tuple[F, NDArray[np.uint8]]:
    """(times, (N, 14) frames) of one track, in time order."""
    n = len(tr)
    if n == 0:
        return np.zeros(0), np.zeros((0, 14), np.uint8)
    times, mes = [], []
    air = ~tr.onground
    for odd, dt in ((False, 0.0), (True, 0.5)):
        o = np.full(n, odd)
        me = np.zeros(n, np.uint64)
        me[air] = airborne_rows(tr.lat[air], tr.lon[air], tr.alt_ft[air], o[air])
        g = ~air
        me[g] = surface_rows(tr.lat[g], tr.lon[g], tr.gs_kt[g], tr.trk_deg[g], o[g])
        times.append(tr.t + dt)
        mes.append(me)
    times.append(tr.t[air] + 0.25)
    mes.append(velocity_rows(tr.gs_kt[air], tr.trk_deg[air], tr.vr_fpm[air]))
    idx = np.arange(0, n, 6)
    ident = np.uint64(modes.ident_me(tr.callsign, int(tr.category[1:] or 0)))
    times.append(tr.t[idx] + 0.1)
    mes.append(np.full(idx.size, ident, np.uint64))
    t_all = np.concatenate(times)
    me_all = np.concatenate(mes)
    order = np.argsort(t_all, kind="stable")
    return t_all[order], frames_rows(tr.icao24, me_all[order])


def write_beast(path: Path, tracks: list[Track]) -> tuple[int, datetime]:
    """Write all tracks as one Beast file whose 12 MHz counter is 0 at the first frame;
    returns the number of frames and the time of the first frame (ingest ``--start``)."""
    ts, frames = [], []
    for tr in tracks:
        t, f = track_frames(tr)
        ts.append(t)
        frames.append(f)
    t_all = np.concatenate(ts)
    f_all = np.concatenate(frames)
    order = np.argsort(t_all, kind="stable")
    t_first = float(t_all[order[0]])
    counter = np.round((t_all[order] - t_first) * 12e6).astype(np.int64)
    with path.open("wb") as out:
        for c, fr in zip(counter, f_all[order], strict=True):
            out.write(modes.beast_frame(fr.tobytes(), int(c)))
    return int(order.size), datetime.fromtimestamp(t_first, UTC)
