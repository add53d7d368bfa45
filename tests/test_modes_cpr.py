"""CPR round trips (Hypothesis): encode a position as the spec does, decode it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch import geo
from sitewatch.modes import cpr
from sitewatch.modes._tables import nl


def encode(lat: float, lon: float, odd: int, span: float = 360.0) -> tuple[int, int]:
    """DO-260B §A.1.7.2 CPR encoding with 17-bit resolution."""
    dlat = span / (60 - odd)
    yz = np.floor(131072 * (lat % dlat) / dlat + 0.5)
    rlat = dlat * (yz / 131072 + np.floor(lat / dlat))
    ni = max(int(nl(np.array([rlat]))[0]) - odd, 1)
    dlon = span / ni
    xz = np.floor(131072 * (lon % dlon) / dlon + 0.5)
    return int(yz) & 0x1FFFF, int(xz) & 0x1FFFF


def lon_lsb(lat: float, span: float = 360.0) -> float:
    """One CPR longitude step at ``lat`` (the widest zone, the odd one): the error bound."""
    return span / max(int(nl(np.array([lat]))[0]) - 1, 1) / 131072


lats = st.floats(-85.0, 85.0, allow_nan=False)
lons = st.floats(-179.9, 179.9, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(lats, lons, st.booleans())
def test_airborne_pair_round_trip(lat: float, lon: float, even_newer: bool) -> None:
    e, o = encode(lat, lon, 0), encode(lat, lon, 1)
    la, lo = cpr.airborne_pair(np.array([e[0]], float), np.array([e[1]], float), np.array([o[0]], float),
                               np.array([o[1]], float), np.array([even_newer]))
    if np.isnan(la[0]):  # only at a zone boundary (NL differs between the two latitudes)
        assert nl(np.array([lat + 0.01]))[0] != nl(np.array([lat - 0.01]))[0]
        return
    assert abs(la[0] - lat) < 1e-4 and abs(((lo[0] - lon + 180) % 360) - 180) <= lon_lsb(lat)


@settings(max_examples=150, deadline=None)
@given(lats, lons, st.integers(0, 1), st.floats(-1.0, 1.0), st.floats(-1.0, 1.0))
def test_local_decoding_near_a_reference(lat: float, lon: float, odd: int, dlat: float, dlon: float) -> None:
    y, x = encode(lat, lon, odd)
    la, lo = cpr.airborne_local(np.array([odd]), np.array([y], float), np.array([x], float),
                                np.array([lat + dlat]), np.array([lon + dlon]))
    assert abs(la[0] - lat) < 1e-4 and abs(((lo[0] - lon + 180) % 360) - 180) <= lon_lsb(lat)


@settings(max_examples=100, deadline=None)
@given(st.floats(-80.0, 80.0), lons, st.booleans(), st.floats(-0.3, 0.3), st.floats(-0.3, 0.3))
def test_surface_pair_round_trip(lat: float, lon: float, even_newer: bool, dlat: float, dlon: float) -> None:
    e, o = encode(lat, lon, 0, 90.0), encode(lat, lon, 1, 90.0)
    la, lo = cpr.surface_pair(np.array([e[0]], float), np.array([e[1]], float), np.array([o[0]], float),
                              np.array([o[1]], float), np.array([even_newer]), np.array([lat + dlat]),
                              np.array([lon + dlon]))
    if np.isnan(la[0]):
        return
    assert abs(la[0] - lat) < 3e-5 and abs(((lo[0] - lon + 180) % 360) - 180) <= lon_lsb(lat, 90.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=7, max_size=14), st.floats(0, 600)), min_size=1, max_size=300),
       st.integers(1, 4))
def test_decoder_survives_garbage_in_any_chunking(rows: list[tuple[bytes, float]], chunks: int) -> None:
    """Random bytes (some with valid DF17 CRC by repair) never crash it; fixes stay on Earth."""
    from sitewatch.modes import ModeSDecoder

    msg = np.zeros((len(rows), 14), np.uint8)
    nb = np.zeros(len(rows), np.int8)
    for i, (b, _) in enumerate(rows):
        b = b[:7] if len(b) < 14 else b
        msg[i, : len(b)] = np.frombuffer(b, np.uint8)
        nb[i] = len(b)
    t = np.sort(np.array([x for _, x in rows]))
    dec = ModeSDecoder()
    for part in np.array_split(np.arange(len(rows)), chunks):
        d = dec.decode(msg[part], nb[part], t[part])
        ok = ~np.isnan(d.lat)
        assert (np.abs(d.lat[ok]) <= 90).all() and (np.abs(d.lon[ok]) <= 180).all()
        assert len(d) == part.size


def test_local_decoding_across_the_antimeridian() -> None:
    y, x = encode(10.0, -179.95, 0)
    la, lo = cpr.airborne_local(np.array([0]), np.array([y], float), np.array([x], float),
                                np.array([10.0]), np.array([179.95]))
    assert abs(la[0] - 10.0) < 1e-4 and abs(lo[0] + 179.95) < 1e-4


# -- local decoding against the receiver reference (--ref / --airport) -------------------------

LFPG = (49.0097, 2.5479)


def _flight(n: int | None = None) -> tuple[list[str], np.ndarray]:
    import json

    from tests.conftest import traffic

    recs = [json.loads(line) for line in open(traffic("rs1090/full_flight_short.jsonl"))]
    recs = recs[:n] if n is not None else recs
    return [r["frame"] for r in recs], np.array([r["timestamp"] for r in recs])


def _one_parity(frames: list[str], ts: np.ndarray, tcs: tuple[int, int], odd: int) -> tuple[list[str], np.ndarray]:
    """Only position frames of type codes ``tcs`` (inclusive) and one CPR parity: no pair ever forms."""
    keep = [i for i, f in enumerate(frames) if len(f) == 28 and int(f[:2], 16) >> 3 == 17
            and tcs[0] <= int(f[8:10], 16) >> 3 <= tcs[1] and (int(f[13], 16) >> 2) & 1 == odd]
    return [frames[i] for i in keep], ts[keep]


def test_one_parity_airborne_frames_match_pymodes_position_with_ref() -> None:
    """An aircraft heard in odd frames only: no pair, so only the reference can place it."""
    pyModeS = pytest.importorskip("pyModeS")
    from sitewatch.modes import decode_hex

    frames, ts = _flight()
    truth, _ = decode_hex(frames, ts)  # both parities: global decoding, the true track
    odd, t_odd = _one_parity(frames, ts, (9, 18), 1)
    alone, _ = decode_hex(odd, t_odd)
    assert np.isnan(alone.lat).all()  # without a reference: nothing
    d, counters = decode_hex(odd, t_odd, reference=LFPG)
    ok = ~np.isnan(d.lat)
    assert ok.sum() > 1000 and d.cpr_ref[ok].all() and (d.pos_kind[ok] == 2).all()
    assert counters["positions_ref"] == ok.sum()
    for k in np.flatnonzero(ok)[::7]:
        o = pyModeS.decode(odd[k], reference=LFPG)
        assert abs(d.lat[k] - o["latitude"]) < 1e-9 and abs(d.lon[k] - o["longitude"]) < 1e-9, k
    assert (geo.haversine_m(d.lat[ok], d.lon[ok], *LFPG) / geo.NM_M).max() < 180.0
    # against the true track (global decoding of both parities): the same place wherever the
    # aircraft really was within 180 NM of the reference. Beyond (the flight goes on to
    # Toulouse, 340 NM away) one frame cannot tell its latitude zone: the reference promises
    # the receiver heard the aircraft from within that range, as in pyModeS, rs1090, dump1090.
    t_index = {float(t): i for i, t in enumerate(ts)}
    idx = np.array([t_index[float(t)] for t in t_odd[ok]])
    known = ~np.isnan(truth.lat[idx])
    true_nm = geo.haversine_m(truth.lat[idx][known], truth.lon[idx][known], *LFPG) / geo.NM_M
    inside = true_nm < 175.0
    assert inside.sum() > 1000
    err_deg = (np.abs(truth.lat[idx][known] - d.lat[ok][known]) + np.abs(truth.lon[idx][known] - d.lon[ok][known]))
    assert err_deg[inside].max() < 1e-3


def test_one_parity_surface_frames_match_pymodes_surface_position_with_ref() -> None:
    pyModeS = pytest.importorskip("pyModeS")
    from sitewatch.modes import decode_hex

    frames, ts = _flight(8000)  # taxi at LFPG
    even, t_even = _one_parity(frames, ts, (5, 8), 0)
    d, _ = decode_hex(even, t_even, reference=LFPG)
    ok = ~np.isnan(d.lat)
    assert ok.sum() > 100 and d.cpr_ref[ok].all() and (d.pos_kind[ok] == 4).all()
    for k in np.flatnonzero(ok):
        o = pyModeS.decode(even[k], surface_ref=LFPG)
        assert abs(d.lat[k] - o["latitude"]) < 1e-9 and abs(d.lon[k] - o["longitude"]) < 1e-9, k
    assert (geo.haversine_m(d.lat[ok], d.lon[ok], *LFPG) < 5000).all()  # on the airport


def test_lone_frame_and_range_limits() -> None:
    from sitewatch.modes import decode_hex

    frame = "8D40621D58C382D690C8AC2863A7"  # airborne, even; the aircraft is at 52.2572 N 3.9194 E
    d, _ = decode_hex([frame], [0.0])
    assert np.isnan(d.lat[0])
    d, c = decode_hex([frame], [0.0], reference=(52.0, 4.0))  # 16 NM away
    assert d.lat[0] == pytest.approx(52.2572, abs=1e-4) and d.lon[0] == pytest.approx(3.91937, abs=1e-4)
    assert d.cpr_ref[0] and c["positions_ref"] == 1
    # 2.9 degrees south and 4.9 east (255 NM): the nearest solution lies beyond 180 NM: refused
    d, c = decode_hex([frame], [0.0], reference=(49.36, 8.82))
    assert np.isnan(d.lat[0]) and c["cpr_ref_out_of_range"] == 1 and not d.cpr_ref[0]
    # a pair still decodes globally, whatever the reference
    pair = ["8D40621D58C382D690C8AC2863A7", "8D40621D58C386435CC412692AD6"]
    d, c = decode_hex(pair, [0.0, 10.0], reference=(52.0, 4.0))
    assert d.pos_kind[1] == 1 and not d.cpr_ref[1] and d.lat[1] == pytest.approx(52.26578, abs=1e-4)


@settings(max_examples=100, deadline=None)
@given(lats, lons, st.integers(0, 1), st.floats(0.0, 170.0), st.floats(0.0, 360.0))
def test_reference_decoding_round_trip(lat: float, lon: float, odd: int, dist_nm: float, brg: float) -> None:
    """Any position within 170 NM of the reference comes back within one CPR step; none beyond 180 NM."""
    from sitewatch.modes import ModeSDecoder

    rlat, rlon = geo.destination(lat, lon, brg, dist_nm * geo.NM_M)
    if abs(float(rlat)) > 85:
        return
    y, x = encode(lat, lon, odd)
    dec = ModeSDecoder(reference=(float(rlat), float(rlon)))
    la, lo = dec._against_reference(np.array([odd]), np.array([y], float), np.array([x], float),
                                    np.array([False]))
    assert abs(la[0] - lat) < 1e-4 and abs(((lo[0] - lon + 180) % 360) - 180) <= lon_lsb(lat)


def test_hex_ingest_marks_reference_positions(tmp_path: Path) -> None:
    from sitewatch.sources.base import ReadOptions
    from sitewatch.store.ingest import ingest_paths
    from sitewatch.workspace import Workspace

    frames, ts = _flight(20000)
    odd, t_odd = _one_parity(frames, ts, (9, 18), 1)
    lines = [f"{t},{f}" for t, f in zip(t_odd, odd, strict=True)]
    p = tmp_path / "odd.csv"
    p.write_text("ts,hex\n" + "\n".join(lines) + "\n")
    ws = Workspace.init(tmp_path / "ws")
    try:
        s = ingest_paths(ws.store, "adsb", [p], opts=ReadOptions(reference=LFPG))
        assert s.failed_files == 0 and s.accepted > 500
        assert ws.store.scalar("SELECT count(*) FROM positions WHERE status = 'cpr-ref'") == s.accepted - 1
        stats = dict(ws.store.sql("SELECT name, value FROM ingest_stats"))
        assert stats["positions_ref"] == s.accepted - 1 + s.duplicates  # + the aircraft row; repeats
    finally:
        ws.close()


# -- metric altitude (M bit set) -------------------------------------------------------------------


def _pymodes2_altitude(ac: int) -> int | None:
    """pyModeS 2.x ``common.altitude`` for M = 1 (transcribed; pyModeS 3 returns None): the
    12 bits other than M are metres, converted with ``int(m * 3.28084)``."""
    b = format(ac, "013b")
    return int(int(b[:6] + b[7:], 2) * 3.28084)


def test_altitude_codes_match_pymodes_feet_and_metres() -> None:
    pyModeS = pytest.importorskip("pyModeS")
    from pyModeS._altcode import altcode_to_altitude

    from sitewatch.modes._tables import ALTITUDE_FT

    for ac in range(8192):
        ours = ALTITUDE_FT[ac]
        if ac and (ac >> 6) & 1:  # metric
            assert ours == _pymodes2_altitude(ac), ac
            continue
        theirs = altcode_to_altitude(ac)
        assert (theirs is None and np.isnan(ours)) or ours == theirs, ac
    assert pyModeS is not None


def _df4(icao: int, ac13: int) -> str:
    """A DF4 surveillance altitude reply with address/parity for ``icao``."""
    from sitewatch.modes import crc

    head = (4 << 27) | (ac13 & 0x1FFF)  # DF4, FS 0, DR 0, UM 0, AC
    m = np.zeros((1, 7), np.uint8)
    m[0, :4] = np.frombuffer(head.to_bytes(4, "big"), np.uint8)
    p = int(crc.syndromes(m)[0]) ^ icao
    m[0, 4:] = np.frombuffer(p.to_bytes(3, "big"), np.uint8)
    return bytes(m[0]).hex()


def test_metric_altitude_reply_is_decoded_in_feet() -> None:
    from sitewatch.modes import decode_hex

    metres = 3000
    ac = ((metres >> 6) << 7) | (1 << 6) | (metres & 0x3F)  # M = 1, 12-bit metres around it
    frames = ["8D40621D58C382D690C8AC2863A7", _df4(0x40621D, ac), _df4(0x40621D, 0x0C98)]
    d, _ = decode_hex(frames, [0.0, 1.0, 2.0])
    assert d.ok[1] and d.alt_ft[1] == int(3000 * 3.28084) == _pymodes2_altitude(ac)
    assert d.ok[2] and not np.isnan(d.alt_ft[2])
