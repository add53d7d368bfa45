"""SBS-1 / BaseStation CSV writer (the port-30003 output of dump1090 and readsb).

Contract: :func:`sbs_lines` turns received :class:`~sitewatch.simulate.tracks.Track`
samples into BaseStation lines in time order, as dump1090 writes them: 22 fields,
``MSG,<type>,1,1,<HEX>,1,<date gen>,<time gen>,<date logged>,<time logged>,<callsign>,
<alt>,<gs>,<track>,<lat>,<lon>,<vrate>,<squawk>,<alert>,<emerg>,<spi>,<on ground>``,
flags ``0``/``-1``. Per sample: ``MSG,3`` (airborne position) or ``MSG,2`` (surface
position), then ``MSG,4`` (velocity, airborne); ``MSG,1`` (identification) every sixth
sample and ``MSG,6`` (squawk) every twelfth. Lines are built column-wise with Arrow
compute kernels (hundreds of thousands of lines a second).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch.simulate.tracks import Track


def _s(values: np.ndarray | pa.Array) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _join(*cols: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*cols, ",")


def sbs_lines(tracks: Iterable[Track]) -> list[str]:
    """All lines of all tracks, sorted by time (message order kept within a sample)."""
    return list(sbs_array(tracks).to_pylist())


def write_sbs(path: Path, tracks: Iterable[Track]) -> int:
    """Write the lines of :func:`sbs_array` to ``path`` (newline-terminated); returns their number."""
    arr = sbs_array(tracks)
    with_nl = pc.binary_join_element_wise(arr, "", "\n").combine_chunks() if isinstance(arr, pa.ChunkedArray) \
        else pc.binary_join_element_wise(arr, "", "\n")
    offsets, data = with_nl.buffers()[1], with_nl.buffers()[2]
    off = np.frombuffer(offsets, np.int32)[with_nl.offset:with_nl.offset + len(with_nl) + 1]
    with path.open("wb") as f:
        if data is not None and len(with_nl):
            f.write(memoryview(data)[int(off[0]):int(off[-1])])
    return len(arr)


def sbs_array(tracks: Iterable[Track]) -> pa.Array:
    """The lines as an Arrow string array, in time order."""
    trs = [t for t in tracks if len(t)]
    if not trs:
        return pa.array([], pa.string())
    t = np.concatenate([tr.t for tr in trs])
    hexid = pa.array(np.repeat([tr.icao24.upper() for tr in trs], [len(tr) for tr in trs]))
    callsign = np.repeat([f"{tr.callsign:<8}" for tr in trs], [len(tr) for tr in trs])
    squawk = np.repeat([tr.squawk for tr in trs], [len(tr) for tr in trs])
    # sample index within its track: MSG,1 every 6th, MSG,6 every 12th
    k = np.concatenate([np.arange(len(tr)) for tr in trs])
    lat = np.concatenate([tr.lat for tr in trs])
    lon = np.concatenate([tr.lon for tr in trs])
    alt = np.concatenate([tr.alt_ft for tr in trs]).astype(np.int64)
    gs = np.concatenate([tr.gs_kt for tr in trs]).astype(np.int64)
    trk = np.concatenate([tr.trk_deg for tr in trs])
    vr = np.concatenate([tr.vr_fpm for tr in trs]).astype(np.int64)
    ground = np.concatenate([tr.onground for tr in trs])

    iso = pa.array(np.datetime_as_string((t * 1000).round().astype("int64").astype("datetime64[ms]"), unit="ms"))
    day = pc.replace_substring(pc.utf8_slice_codeunits(iso, 0, 10), "-", "/")
    hms = pc.utf8_slice_codeunits(iso, 11, 23)
    head = _join(hexid, "1", day, hms, day, hms)
    s_lat = _s(np.round(lat, 5))
    s_lon = _s(np.round(lon, 5))
    s_alt, s_gs, s_trk, s_vr = _s(alt), _s(gs), _s(np.round(trk, 1)), _s(vr)
    flag = pa.array(np.where(ground, "-1", "0"))
    e = ""

    parts: list[tuple[np.ndarray, int, pa.Array]] = []
    gi = np.flatnonzero(ground)
    ai = np.flatnonzero(~ground)

    def take(a: pa.Array | str, idx: np.ndarray) -> pa.Array | str:
        return a if isinstance(a, str) else a.take(pa.array(idx))

    if gi.size:
        g = lambda a: take(a, gi)  # noqa: E731
        parts.append((gi, 0, _join("MSG", "2", "1", "1", g(head), e, g(s_alt), g(s_gs), g(s_trk), g(s_lat),
                                   g(s_lon), e, e, e, e, e, "-1")))
    if ai.size:
        a_ = lambda a: take(a, ai)  # noqa: E731
        parts.append((ai, 0, _join("MSG", "3", "1", "1", a_(head), e, a_(s_alt), e, e, a_(s_lat), a_(s_lon),
                                   e, e, "0", "0", "0", "0")))
        parts.append((ai, 1, _join("MSG", "4", "1", "1", a_(head), e, e, a_(s_gs), a_(s_trk), e, e, a_(s_vr),
                                   e, "0", "0", "0", "0")))
    ii = np.flatnonzero(k % 6 == 0)
    parts.append((ii, 2, _join("MSG", "1", "1", "1", take(head, ii), pa.array(callsign[ii]), e, e, e, e, e, e, e,
                               "0", "0", "0", take(flag, ii))))
    si = np.flatnonzero(k % 12 == 0)
    parts.append((si, 3, _join("MSG", "6", "1", "1", take(head, si), e, e, e, e, e, e, e, pa.array(squawk[si]),
                               "0", "0", "0", take(flag, si))))
    idx = np.concatenate([p[0] for p in parts])
    sub = np.concatenate([np.full(p[0].size, p[1]) for p in parts])
    lines = pa.chunked_array([p[2] for p in parts]).combine_chunks()
    order = np.lexsort((sub, idx, t[idx]))
    return lines.take(pa.array(order))
