"""The Mode S decoder on hand-checkable frames ("The 1090 MHz Riddle" examples) and CRC repair."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.modes import ModeSDecoder, decode_hex, from_hex
from sitewatch.modes import crc as C


def test_crc_syndrome_zero_for_clean_frames_and_address_for_df4() -> None:
    msg, nb, reason = from_hex(["8D4840D6202CC371C32CE0576098", "*8d4840d6202cc371c32ce0576098;"])
    assert list(nb) == [14, 14] and all(r is None for r in reason)
    assert list(C.syndromes(msg)) == [0, 0]
    # DF4 with address/parity overlay: the syndrome is the aircraft address
    msg, nb, _ = from_hex(["212800bf40f1ef"])
    assert C.syndromes(msg[:, :7])[0] == 0x393322


def test_single_bit_errors_are_repaired_two_bit_errors_dropped() -> None:
    good = "8D4840D6202CC371C32CE0576098"
    raw = bytes.fromhex(good)
    frames, t = [], []
    for bit in range(5, 112):
        b = bytearray(raw)
        b[bit // 8] ^= 0x80 >> (bit % 8)
        frames.append(b.hex())
        t.append(float(bit))
    b = bytearray(raw)
    b[6] ^= 0x11  # two bits
    frames.append(b.hex())
    t.append(200.0)
    d, counters = decode_hex(frames, t)
    assert counters["crc_repaired"] == 107 and counters["crc_failed"] == 1
    assert all(cs == "KLM1023" for cs in d.callsign[:107])
    assert d.callsign[107] is None and not d.ok[107]


def test_identification_velocity_altitude_squawk() -> None:
    frames = ["8D4840D6202CC371C32CE0576098", "8D485020994409940838175B284F",
              "8DA05F219B06B6AF189400CBC33F", "20001838CA3804", "28001A1BC7A8EA"]
    d, _ = decode_hex(frames, [0.0, 1.0, 2.0, 3.0, 4.0])
    assert d.callsign[0] == "KLM1023" and d.tc[0] == 4
    assert d.speed_kt[1] == pytest.approx(159.20, abs=0.01) and d.track_deg[1] == pytest.approx(182.88, abs=0.01)
    assert d.vrate_fpm[1] == -832
    assert d.heading_deg[2] == pytest.approx(243.98, abs=0.01) and np.isnan(d.speed_kt[2])
    assert d.vrate_fpm[2] == -2304
    # DF4/DF5 need the address to be known from a clean DF11/17/18 first: here it is not
    assert not d.ok[3] and not d.ok[4]


def test_global_and_local_airborne_position() -> None:
    frames = ["8D40621D58C382D690C8AC2863A7", "8D40621D58C386435CC412692AD6", "8D40621D58C382D690C8AC2863A7"]
    d, counters = decode_hex(frames, [0.0, 10.0, 20.0])
    # the first frame is decoded locally against the pair that follows it (look-ahead)
    assert d.pos_kind[0] == 2 and d.lat[0] == pytest.approx(52.25720, abs=1e-4)
    assert d.lat[1] == pytest.approx(52.26578, abs=1e-4) and d.lon[1] == pytest.approx(3.93894, abs=1e-4)
    assert d.lat[2] == pytest.approx(52.25720, abs=1e-4) and d.lon[2] == pytest.approx(3.91937, abs=1e-4)
    assert d.alt_ft[1] == 38000
    assert counters["positions_global"] == 2 and counters["positions_local"] == 1


def test_state_carries_across_chunks_and_stale_pairs_are_not_used() -> None:
    even, odd = "8D40621D58C382D690C8AC2863A7", "8D40621D58C386435CC412692AD6"
    dec = ModeSDecoder()
    m1, n1, _ = from_hex([even])
    m2, n2, _ = from_hex([odd])
    assert np.isnan(dec.decode(m1, n1, np.array([0.0])).lat[0])
    d2 = dec.decode(m2, n2, np.array([1.0]))  # the partner came in the previous chunk
    assert d2.lat[0] == pytest.approx(52.26578, abs=1e-4)
    dec = ModeSDecoder()
    dec.decode(m1, n1, np.array([0.0]))
    assert np.isnan(dec.decode(m2, n2, np.array([30.0])).lat[0])  # 30 s apart: no pair


def test_impossible_jump_is_rejected() -> None:
    # a real pair, then the same aircraft 1 s later 2,000 km away (a synthetic CPR pair)
    from sitewatch.modes import cpr

    lat0, lon0 = 52.26578, 3.93894

    def encode(lat: float, lon: float, odd: int) -> tuple[int, int]:
        dlat = 360.0 / (60 - odd)
        yz = int(np.floor(131072 * (lat % dlat) / dlat + 0.5))
        rlat = dlat * (yz / 131072 + np.floor(lat / dlat))
        from sitewatch.modes._tables import nl

        ni = max(int(nl(np.array([rlat]))[0]) - odd, 1)
        dlon = 360.0 / ni
        xz = int(np.floor(131072 * (lon % dlon) / dlon + 0.5))
        return yz & 0x1FFFF, xz & 0x1FFFF

    def frame(lat: float, lon: float, odd: int) -> str:
        yz, xz = encode(lat, lon, odd)
        me = (11 << 51) | (0xC38 << 36) | (odd << 34) | (yz << 17) | xz
        b = bytearray(bytes.fromhex("8D40621D") + me.to_bytes(7, "big") + b"\0\0\0")
        s = int(C.syndromes(np.frombuffer(bytes(b), np.uint8).reshape(1, 14))[0])
        b[11:14] = s.to_bytes(3, "big")
        return b.hex()

    frames = [frame(lat0, lon0, 0), frame(lat0, lon0 + 0.001, 1), frame(lat0 - 18, lon0, 0),
              frame(lat0 - 18, lon0, 1), frame(lat0, lon0 + 0.004, 0), frame(lat0, lon0 + 0.005, 1)]
    d, counters = decode_hex(frames, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    assert counters["jump_rejected"] >= 1
    assert np.isnan(d.lat[3]) and d.lat[5] == pytest.approx(lat0, abs=1e-3)
    assert cpr.CPR_SCALE == 131072.0


def test_bad_hex_reasons() -> None:
    _, nb, reason = from_hex(["8D4840D6202CC371C32CE057609", "XYZ", "", "8D4840D6202CC371C32CE057609Z", "é" * 28])
    assert list(nb) == [0, 0, 0, 0, 0]
    assert "27 hex digits" in reason[0] and reason[3] == "not hexadecimal" and reason[4] == "not hexadecimal"


def test_beast_sample_agrees_with_pymodes() -> None:
    pyModeS = pytest.importorskip("pyModeS")
    from tests.conftest import traffic

    from sitewatch.sources.adsb.beast import _messages
    from sitewatch.sources.base import iter_inputs

    src = next(iter_inputs([traffic("dump1090/sample_dump1090.bin")]))
    frames = [(p, tick / 12e6) for kind, _, p, tick in _messages(src) if kind == "frame" and len(p) in (7, 14)]
    hexes = [p.hex() for p, _ in frames]
    ts = np.array([t for _, t in frames])
    ours, _ = decode_hex(hexes, ts)
    pipe = pyModeS.PipeDecoder()
    theirs = [pipe.decode(h, timestamp=float(t)) for h, t in zip(hexes, ts, strict=True)]
    pipe.flush()
    got = [(round(o["latitude"], 5), round(o["longitude"], 5)) for o in theirs if o.get("latitude") is not None]
    mine = {(round(a, 5), round(b, 5)) for a, b in zip(ours.lat, ours.lon, strict=True) if not np.isnan(a)}
    assert got and set(got) <= mine
    for k, o in enumerate(theirs):
        if o.get("df") == 17 and o.get("altitude") is not None:
            assert ours.alt_ft[k] == o["altitude"]


def test_surface_reference_gives_the_same_fixes() -> None:
    import json

    from tests.conftest import traffic

    recs = [json.loads(line) for line in open(traffic("rs1090/full_flight_short.jsonl"))][:6000]
    frames, ts = [r["frame"] for r in recs], [r["timestamp"] for r in recs]
    own, _ = decode_hex(frames, ts)
    ref, _ = decode_hex(frames, ts, reference=(49.0097, 2.5479))  # LFPG
    surf = own.pos_kind >= 3
    assert surf.sum() > 500
    assert np.allclose(own.lat[surf], ref.lat[surf]) and np.allclose(own.lon[surf], ref.lon[surf])
    with pytest.raises(ValueError):
        ModeSDecoder(reference=(95.0, 0.0))


def test_aircraft_status_squawk_matches_pymodes() -> None:
    pyModeS = pytest.importorskip("pyModeS")
    frames = []
    for code13 in (0x0808, 0x1FC0, 0x0A5A, 0x1555):
        me = (28 << 51) | (1 << 48) | (0 << 45) | (code13 << 32)
        b = bytearray(bytes.fromhex("8D4840D6") + me.to_bytes(7, "big") + b"\0\0\0")
        s = int(C.syndromes(np.frombuffer(bytes(b), np.uint8).reshape(1, 14))[0])
        b[11:14] = s.to_bytes(3, "big")
        frames.append(b.hex())
    d, _ = decode_hex(frames, [0.0, 1.0, 2.0, 3.0])
    for k, fr in enumerate(frames):
        assert f"{d.squawk[k]:04o}" == pyModeS.decode(fr)["squawk"]


def test_surface_quadrant_from_the_feed_region() -> None:
    """An aircraft seen only on the ground is placed using the other aircraft's fixes."""
    import json

    from tests.conftest import traffic

    from sitewatch.sources.adsb.beast import _messages
    from sitewatch.sources.base import iter_inputs

    recs = [json.loads(line) for line in open(traffic("rs1090/full_flight_short.jsonl"))][:2000]
    ground = [r["frame"] for r in recs]
    t0 = recs[0]["timestamp"]
    src = next(iter_inputs([traffic("dump1090/sample_dump1090.bin")]))
    air = [(p.hex(), t0 + tick / 12e6) for kind, _, p, tick in _messages(src) if kind == "frame" and len(p) == 14]
    d_alone, c_alone = decode_hex(ground, [r["timestamp"] for r in recs])
    assert (d_alone.pos_kind > 0).sum() == 0 and c_alone["surface_no_reference"] > 0
    frames = ground + [h for h, _ in air]
    ts = [r["timestamp"] for r in recs] + [t for _, t in air]
    d, c = decode_hex(frames, ts)
    surf = np.flatnonzero(d.pos_kind[:2000] >= 3)
    assert surf.size > 500 and c["surface_region_reference"] > 0
    assert np.allclose(d.lat[surf], 49.0, atol=0.05) and np.allclose(d.lon[surf], 2.56, atol=0.05)  # LFPG


def test_heading_and_vertical_rate_from_airspeed_subtype_reach_positions() -> None:
    b = bytearray(bytes.fromhex("8DA05F219B06B6AF189400CBC33F"))
    b[1:4] = bytes.fromhex("40621D")  # the airspeed frame, re-addressed to the position pair's aircraft
    b[11:14] = b"\0\0\0"
    b[11:14] = int(C.syndromes(np.frombuffer(bytes(b), np.uint8).reshape(1, 14))[0]).to_bytes(3, "big")
    frames = ["8D40621D58C382D690C8AC2863A7", b.hex(), "8D40621D58C386435CC412692AD6"]
    d, _ = decode_hex(frames, [0.0, 5.0, 10.0])
    assert d.pos_kind[2] == 1
    assert d.ctx_heading_deg[2] == pytest.approx(243.98, abs=0.01) and d.ctx_vrate_fpm[2] == -2304
    assert np.isnan(d.ctx_speed_kt[2])  # no ground speed was sent
