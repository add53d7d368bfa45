"""SIMULATED readsb traces and adsb.lol ``globe_history``-style tars, in the real layout.

Contract: :func:`trace_bytes` writes one aircraft's ``trace_full_<hex>.json`` the way readsb
does (header keys one per line, ``"trace":[`` then one point per line, 14 fields
``[dt_s, lat, lon, alt_ft|"ground"|null, gs_kt, track_deg, flags, vrate_fpm, details|null,
source, geom_alt_ft, geom_rate_fpm, ias_kt, roll_deg]``, a details object on about a quarter
of the points with ``flight``/``squawk`` among readsb's keys); :func:`write_globe_tar` writes a
day's tar: ``traces/<hex % 256>/trace_full_<hex>.json`` members compressed per member (gzip as
readsb writes them, or zstd), ``heatmap/NN.bin.ttf``, ``README.txt`` and the licence files.
Every trace's ``desc`` says SIMULATED. Seeded: the same arguments give the same bytes
(except the tar's member times, fixed to ``t0``).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HMEIMIM = (35.4011, 35.9486)
TYPES = (("B738", "BOEING 737-800", 0), ("A320", "AIRBUS A-320", 0), ("B77W", "BOEING 777-300ER", 0),
         ("IL76", "ILYUSHIN IL-76", 1), ("A124", "ANTONOV AN-124 RUSLAN", 1), ("C17", "BOEING C-17A", 1),
         ("E190", "EMBRAER ERJ-190", 0), ("A21N", "AIRBUS A-321neo", 0))


@dataclass(frozen=True)
class TraceSpec:
    """One simulated aircraft: its address, start, course and number of points."""

    icao: str
    t0_s: float
    lat0: float
    lon0: float
    course_deg: float
    n_points: int
    type_index: int = 0


def _fmt_alt(a: float, ground: bool) -> str:
    if ground:
        return '"ground"'
    return "null" if a != a else str(int(a))


def trace_bytes(spec: TraceSpec, seed: int = 0) -> bytes:
    """One trace file's (uncompressed) JSON text, readsb's layout."""
    rng = np.random.default_rng([seed, int(spec.icao.lstrip("~"), 16)])
    n = spec.n_points
    dt = np.cumsum(rng.uniform(2.0, 18.0, n))
    dt[0] = 0.0
    speed = rng.uniform(250.0, 480.0)
    dist_deg = np.cumsum(np.r_[0.0, np.diff(dt)]) * speed / 3600.0 / 60.0
    c = np.radians(spec.course_deg)
    lat = np.clip(spec.lat0 + dist_deg * np.cos(c), -89.9, 89.9)
    lon = (spec.lon0 + dist_deg * np.sin(c) / max(np.cos(np.radians(spec.lat0)), 0.2) + 180.0) % 360.0 - 180.0
    ground = np.zeros(n, bool)
    ground[: max(1, n // 30)] = True
    alt = np.minimum(np.arange(n) * 400.0, rng.choice([24000.0, 32000.0, 36000.0, 38000.0]))
    gs = np.where(ground, rng.uniform(0, 20, n), speed + rng.normal(0, 3, n))
    trk = (spec.course_deg + rng.normal(0, 2, n)) % 360.0
    flags = np.where(rng.random(n) < 0.03, 1, 0)
    flags[rng.random(n) < 0.002] |= 2
    vr = np.where(ground, 0, rng.choice([0, 64, -64, 1344, -896], n))
    has_det = rng.random(n) < 0.25
    callsign = f"SIM{int(spec.icao.lstrip('~'), 16) % 9000 + 100:d}".ljust(8)
    squawk = f"{rng.integers(0, 8, 4)[0]}{rng.integers(0, 8)}{rng.integers(0, 8)}{rng.integers(0, 8)}"
    lines = []
    for i in range(n):
        if has_det[i]:
            det = (f'{{"type":"adsb_icao","flight":"{callsign}","alt_geom":{int(alt[i]) + 1825},'
                   f'"track":{trk[i]:.2f},"baro_rate":{int(vr[i])},"squawk":"{squawk}","emergency":"none",'
                   f'"category":"A3","nav_qnh":1013.6,"nav_altitude_mcp":{int(alt[i])},"nav_modes":["autopilot","tcas"],'
                   '"nic":8,"rc":186,"version":2,"nic_baro":1,"nac_p":10,"nac_v":2,"sil":3,"sil_type":"perhour",'
                   '"gva":2,"sda":2,"alert":0,"spi":0}')
        else:
            det = "null"
        g = bool(ground[i])
        tail = "null,null,null,null" if g else f"{int(alt[i]) + 1825},{int(vr[i])},{int(gs[i] * 0.6)},{rng.normal(0, 1):.1f}"
        lines.append(f"    [{dt[i]:.2f},{lat[i]:.6f},{lon[i]:.6f},{_fmt_alt(alt[i], g)},{gs[i]:.1f},{trk[i]:.1f},"
                     f"{int(flags[i])},{'null' if g else int(vr[i])},{det},\"adsb_icao\",{tail}]")
    t, desc, mil = TYPES[spec.type_index % len(TYPES)]
    head = (f'{{"icao":"{spec.icao}",\n  "r":"SIM-{spec.icao[-4:].upper()}",\n  "t":"{t}",\n'
            f'  "dbFlags":{mil},"desc":"{desc} (SIMULATED)",\n  "ownOp":"SIMULATED OPERATOR",\n  "year":"2018",\n'
            f'  "timestamp": {spec.t0_s:.3f},\n  "trace":[\n')
    return (head + ",\n".join(lines) + " ]\n}\n").encode()


def specs(n_aircraft: int, points: int, seed: int = 0, t0_s: float = 1733443200.0,
          near: tuple[float, float] | None = HMEIMIM, near_every: int = 50) -> Iterator[TraceSpec]:
    """``n_aircraft`` traces of ``points`` points on average; every ``near_every``-th starts at ``near``."""
    rng = np.random.default_rng(seed)
    for k in range(n_aircraft):
        icao = f"{(0x100000 + k * 7919) % 0xFFFFFF:06x}"
        if near is not None and near_every and k % near_every == 0:
            lat0, lon0 = near
        else:
            lat0, lon0 = float(rng.uniform(-60, 70)), float(rng.uniform(-180, 180))
        n = max(2, int(rng.integers(points // 2, points * 3 // 2 + 1)))
        yield TraceSpec(icao, t0_s + float(rng.uniform(0, 3600)), lat0, lon0, float(rng.uniform(0, 360)), n,
                        int(rng.integers(0, len(TYPES))))


def compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if codec == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=1).compress(data)
    if codec == "none":
        return data
    raise ValueError(f"unknown codec {codec!r}")


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    tar.addfile(info, io.BytesIO(data))


def write_globe_tar(path: Path, traces: Iterator[TraceSpec] | list[TraceSpec], seed: int = 0,
                    codec: str = "gzip", extra: dict[str, bytes] | None = None) -> dict[str, int]:
    """Write a globe_history-style day tar at ``path``; returns counts (aircraft, points, bytes)."""
    n_ac = n_pts = 0
    t0 = 1733443200.0
    with open(path, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
        _add(tar, "README.txt", b"SIMULATED globe_history-style day written by sitewatch.simulate\n", t0)
        _add(tar, "LICENSE-ODbL.txt", b"ODC Open Database License (ODbL) v1.0 (placeholder, SIMULATED)\n", t0)
        for spec in traces:
            hexid = int(spec.icao.lstrip("~"), 16)
            _add(tar, f"traces/{hexid % 256:02x}/trace_full_{spec.icao}.json",
                 compress(trace_bytes(spec, seed), codec), t0)
            n_ac += 1
            n_pts += spec.n_points
        for k in range(2):
            _add(tar, f"heatmap/{k:02d}.bin.ttf", gzip.compress(bytes(range(256)) * 4, mtime=0), t0)
        for name, data in (extra or {}).items():
            _add(tar, name, data, t0)
    return {"aircraft": n_ac, "points": n_pts, "bytes": path.stat().st_size}
