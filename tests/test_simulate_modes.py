"""The Mode S / Beast encoder against pyModeS 3.6.1 as the oracle."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyModeS as pms
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.simulate import beast, modes, scenario, tracks


def test_crc_matches_a_real_frame() -> None:
    real = bytes.fromhex("8D4840D6202CC371C32CE0576098")  # KLM1023, "The 1090 MHz Riddle"
    assert modes.crc24(real[:11]) == int.from_bytes(real[11:], "big")
    assert beast.crc24_rows(np.frombuffer(real[:11], np.uint8)[None, :])[0] == int.from_bytes(real[11:], "big")


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-80, 80), lon=st.floats(-179.9, 179.9), alt=st.integers(-40, 1800).map(lambda n: n * 25),
       odd=st.booleans())
def test_airborne_position_round_trip(lat: float, lon: float, alt: int, odd: bool) -> None:
    f = modes.df17("15405e", modes.airborne_position_me(lat, lon, alt, odd))
    d = pms.decode(f.hex(), reference=(lat, lon))
    assert d["crc_valid"] and d["typecode"] == 11 and d["altitude"] == alt and d["cpr_format"] == int(odd)
    assert d["latitude"] == pytest.approx(lat, abs=2e-4) and d["longitude"] == pytest.approx(lon, abs=3e-4)


@settings(max_examples=150, deadline=None)
@given(gs=st.integers(0, 600), trk=st.floats(0, 359.9), vr=st.integers(-60, 60).map(lambda n: n * 64))
def test_velocity_round_trip(gs: int, trk: float, vr: int) -> None:
    d = pms.decode(modes.df17("1533e1", modes.velocity_me(gs, trk, vr)).hex())
    assert d["typecode"] == 19 and d["vertical_rate"] == vr
    assert d["groundspeed"] == pytest.approx(gs, abs=1.0)
    if gs > 20:
        assert abs((d["track"] - trk + 180) % 360 - 180) < 2.5


@pytest.mark.parametrize("cs", ["RFF7251", "MEA512", "A", "12345678"])
def test_identification_round_trip(cs: str) -> None:
    d = pms.decode(modes.df17("154073", modes.ident_me(cs, 5)).hex())
    assert d["callsign"] == cs and d["category"] == 5 and d["typecode"] == 4


@pytest.mark.parametrize("gs", [0.0, 0.5, 1.5, 7.0, 15.0, 40.0, 90.0, 140.0])
def test_surface_position_round_trip(gs: float) -> None:
    for odd in (False, True):
        f = modes.df17("154073", modes.surface_position_me(35.4012, 35.9475, gs, 176.0, odd))
        d = pms.decode(f.hex(), surface_ref=(35.40, 35.95))
        assert d["latitude"] == pytest.approx(35.4012, abs=1e-4)
        assert d["longitude"] == pytest.approx(35.9475, abs=1e-4)
        assert d["groundspeed"] == pytest.approx(gs, abs=max(0.2, gs * 0.05))


def test_vectorised_encoder_equals_scalar() -> None:
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(-60, 60, 300), rng.uniform(-179, 179, 300)
    alt = np.round(rng.uniform(0, 40000, 300) / 25) * 25
    odd = rng.integers(0, 2, 300).astype(bool)
    rows = beast.frames_rows("154076", beast.airborne_rows(lat, lon, alt, odd))
    gs, trk, vr = rng.uniform(0, 500, 300).round(), rng.uniform(0, 360, 300), rng.integers(-40, 40, 300) * 64.0
    vrows = beast.frames_rows("154076", beast.velocity_rows(gs, trk, vr))
    srows = beast.frames_rows("154076", beast.surface_rows(lat, lon, gs / 5, trk, odd))
    for i in range(300):
        assert rows[i].tobytes() == modes.df17("154076", modes.airborne_position_me(lat[i], lon[i], alt[i], odd[i]))
        assert vrows[i].tobytes() == modes.df17("154076", modes.velocity_me(gs[i], trk[i], vr[i]))
        assert srows[i].tobytes() == modes.df17("154076", modes.surface_position_me(lat[i], lon[i], gs[i] / 5,
                                                                                      trk[i], odd[i]))


def _parse_beast(data: bytes) -> list[tuple[int, bytes]]:
    """An independent, minimal Beast reader (escape handling included)."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x1A and data[i + 1] == ord("3")
        i += 2
        body = bytearray()
        while len(body) < 21:
            b = data[i]
            i += 1
            if b == 0x1A:
                assert data[i] == 0x1A
                i += 1
            body.append(b)
        out.append((int.from_bytes(body[:6], "big"), bytes(body[7:])))
    return out


def test_beast_file_decodes_with_pipe_decoder(tmp_path: Path) -> None:
    sc = scenario.build(seed=1, scale=0.2)
    leg = next(lg for lg in sc.legs if lg.to_site and lg.airframe.typecode == "A124")
    tr = tracks.received(tracks.leg_track(leg), sc.dark)
    p = tmp_path / "f.beast"
    n, first = beast.write_beast(p, [tr])
    assert first == datetime.fromtimestamp(tr.t[0], UTC)
    t0 = first
    recs = _parse_beast(p.read_bytes())
    assert len(recs) == n and b"\x1a\x1a" in p.read_bytes()  # escapes exercised
    dec = pms.PipeDecoder(surface_ref=(35.40, 35.95))
    got = []
    for counter, frame in recs:
        d = dec.decode(frame.hex(), timestamp=t0.timestamp() + counter / 12e6)
        if d.get("latitude") is not None:
            got.append((t0.timestamp() + counter / 12e6, d["latitude"], d["longitude"]))
    assert len(got) >= len(tr)  # every sample yields at least one decoded position
    g = np.array(got)
    i = np.searchsorted(tr.t, g[:, 0] - 0.6)
    i = np.clip(i, 0, len(tr) - 1)
    assert np.abs(g[:, 1] - tr.lat[i]).max() < 1e-3 and np.abs(g[:, 2] - tr.lon[i]).max() < 1e-3
    first_cs = next(dec.decode(f.hex(), timestamp=0.0) for _, f in recs if f[4] >> 3 == 4)
    assert first_cs["callsign"] == leg.callsign


def test_beast_file_through_sitewatch_ingest(tmp_path: Path) -> None:
    """Our Beast writer and the project's own Beast reader agree (times and positions)."""
    import csv

    from sitewatch.cli import main

    sc = scenario.build(seed=2, scale=0.2)
    leg = next(lg for lg in sc.legs if lg.to_site and lg.airframe.typecode == "IL76")
    tr = tracks.received(tracks.leg_track(leg), sc.dark)
    p = tmp_path / "one.SIMULATED.beast"
    _, first = beast.write_beast(p, [tr])
    ws = str(tmp_path / "ws")
    assert main(["-q", "init", ws]) == 0
    assert main(["-q", "-w", ws, "ingest", "adsb", str(p), "--format", "beast",
                 "--start", first.isoformat(), "--airport", "OSLK"]) == 0
    out = tmp_path / "pos.csv"
    assert main(["-q", "-w", ws, "export", "positions", "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) >= len(tr)
    t = np.array([datetime.fromisoformat(r["t_utc"].replace("Z", "+00:00")).timestamp() for r in rows])
    lat, lon = np.array([float(r["lat"]) for r in rows]), np.array([float(r["lon"]) for r in rows])
    i = np.clip(np.searchsorted(tr.t, t - 0.6), 0, len(tr) - 1)
    assert np.abs(t - tr.t[i]).max() <= 0.6
    assert np.abs(lat - tr.lat[i]).max() < 1e-3 and np.abs(lon - tr.lon[i]).max() < 1e-3
