"""The scenario simulator: the story's facts, determinism, and the raw files read back
by independent decoders (pyais for NMEA, a plain CSV read for SBS)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from sitewatch import geo
from sitewatch.simulate import layout, scenario, sea, tracks
from sitewatch.simulate.nmea import position_payload, position_payloads, sentences, static_payload
from sitewatch.simulate.sbs import sbs_lines
from sitewatch.simulate.writer import write_scenario


@pytest.fixture(scope="module")
def sc() -> scenario.Scenario:
    return scenario.build(seed=7, scale=0.3)


def test_deterministic() -> None:
    a, b = scenario.build(3, 0.3), scenario.build(3, 0.3)
    assert [(lg.airframe.icao24, lg.t_ref) for lg in a.legs] == [(lg.airframe.icao24, lg.t_ref) for lg in b.legs]
    assert a.vehicles == b.vehicles and a.dark == b.dark


def test_story_matches_the_article(sc: scenario.Scenario) -> None:
    def t(d: int, h: float) -> datetime:
        return datetime(2024, 12, d, tzinfo=UTC) + timedelta(hours=h)

    def an124_on_ground(when: datetime) -> int:
        return sum(1 for s in sc.aircraft_at(when) if s.airframe.typecode == "A124")

    assert an124_on_ground(t(13, 8)) == 2  # Friday: two An-124 at the base
    assert an124_on_ground(t(17, 7.5)) == 0  # gone by Tuesday
    assert an124_on_ground(t(18, 8)) == 2  # two again on Wednesday morning
    assert any(s.airframe.typecode == "IL76" for s in sc.aircraft_at(t(15, 8.5)))  # Il-76 on Sunday
    total = {d: sc.vehicles[("hmeimim", "park-north", datetime(2024, 12, d).date())]
             + sc.vehicles[("hmeimim", "park-south", datetime(2024, 12, d).date())] for d in (6, 15, 18)}
    assert total[6] < 30 and total[18] > 100 and total[18] - total[6] > 90
    # warships alongside before the 9th, none in the port's quays afterwards
    quays = [z.geometry for z in layout.site_objects()[1].zones if z.kind == "quay"]

    def navy_alongside(when: datetime) -> int:
        return sum(1 for v, la, lo in sc.ships_at(when) if v.ship.navy
                   and any(q.buffer(1e-4).contains(Point(lo, la)) for q in quays))

    assert navy_alongside(t(6, 8)) == 4 and navy_alongside(t(11, 8)) == 0
    # at most as many aircraft on the ground as there are stands
    for s in sc.stays:
        assert len(sc.aircraft_at(s.t_in)) <= len(layout.H_STANDS)


def test_dark_an124_is_lost_west_over_sea_and_back_heading_north(sc: scenario.Scenario) -> None:
    (w,) = sc.dark
    assert (w.t_on - w.t_off).total_seconds() == 6 * 3600
    legs = [lg for lg in sc.legs if lg.airframe.icao24 == w.icao24 and lg.t_ref.day == 17]
    inbound = tracks.received(tracks.leg_track(legs[0]), sc.dark)
    outbound = tracks.received(tracks.leg_track(legs[1]), sc.dark)
    # the inbound track starts in Russian airspace (Mozdok) and ends ~40 km west, descending
    assert inbound.lat[0] > 43
    d_km = geo.haversine_m(layout.HMEIMIM_LAT, layout.HMEIMIM_LON, inbound.lat[-1], inbound.lon[-1]) / 1000
    brg = geo.bearing_deg(layout.HMEIMIM_LAT, layout.HMEIMIM_LON, inbound.lat[-1], inbound.lon[-1])
    assert 30 < d_km < 60 and 240 < brg < 290 and inbound.vr_fpm[-1] < 0
    assert inbound.lon[-1] < 35.75  # over the sea, off the coast
    # back six hours later, north of the base, climbing, heading north
    gap_s = outbound.t[0] - inbound.t[-1]
    assert 6 * 3600 - 20 < gap_s < 6 * 3600 + 20
    assert outbound.lat[0] > layout.HMEIMIM_LAT + 0.3 and outbound.vr_fpm[0] > 0
    assert geo.angle_diff_deg(outbound.trk_deg[0], 0.0) < 45
    # nothing at all from that aircraft in between
    assert not ((inbound.t > w.t_off.timestamp()) & (inbound.t < w.t_on.timestamp())).any()


def test_normal_arrival_lands_on_the_runway_and_taxis(sc: scenario.Scenario) -> None:
    leg = next(lg for lg in sc.legs if lg.to_site and lg.airframe.typecode == "IL76")
    tr = tracks.leg_track(leg)
    rwy = layout.site_objects()[0].zone("runway").geometry.buffer(2e-4)

    first_ground = int(np.argmax(tr.onground))
    assert shapely.intersects_xy(rwy, tr.lon[first_ground], tr.lat[first_ground])
    assert tr.alt_ft[first_ground - 1] < 1000 and tr.gs_kt[-1] <= 20
    assert geo.angle_diff_deg(tr.trk_deg[first_ground - 3], layout.RUNWAY_HDG_DEG) < 5


def test_nmea_decodes_with_pyais() -> None:
    from pyais.messages import NMEAMessage

    p, fill = position_payload(273110250, 34.9012, 35.8671, 11.3, 271.4, 271, 0, 42)
    (line,) = sentences(p, fill, 1733731200, "SIMULATED")
    assert line.startswith("\\s:SIMULATED,c:1733731200*")
    m = NMEAMessage(line.split("\\")[-1].encode())
    assert m.is_valid
    d = m.decode()
    assert (d.msg_type, d.mmsi, d.status, d.speed, d.course, d.heading, d.second) == (1, 273110250, 0, 11.3,
                                                                                     271.4, 271, 42)
    assert d.lat == pytest.approx(34.9012, abs=1e-6) and d.lon == pytest.approx(35.8671, abs=1e-6)
    sp, sf = static_payload(273110260, 0, "RUS102", "ADMIRAL GOLOVKO", 35, 124.8, 15.2, 4.2, "TARTUS", None)
    parts = [NMEAMessage(s.split("\\")[-1].encode()) for s in sentences(sp, sf, 1733731200, "SIMULATED", 3)]
    assert len(parts) == 2 and all(x.is_valid for x in parts)
    d5 = NMEAMessage.assemble_from_iterable(parts).decode()
    assert (d5.shipname, d5.callsign, d5.ship_type, d5.destination, d5.draught) == (
        "ADMIRAL GOLOVKO", "RUS102", 35, "TARTUS", 4.2)
    assert d5.to_bow + d5.to_stern == 125 and d5.to_port + d5.to_starboard == 15
    vec = position_payloads(273110250, np.array([34.9012]), np.array([35.8671]), np.array([11.3]),
                            np.array([271.4]), np.array([271.0]), np.array([0]), np.array([42]), np.array([1]))
    assert vec == [p]


def test_ais_lines_all_valid_and_tell_the_port_story(sc: scenario.Scenario) -> None:
    from pyais.messages import NMEAMessage

    rows = sea.ais_lines(sc.voyages, np.random.default_rng(0))
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    buf: list[NMEAMessage] = []
    last: dict[int, tuple[int, float, float, float]] = {}
    for t, line in rows:
        m = NMEAMessage(line.split("\\")[-1].encode())
        assert m.is_valid, line
        buf.append(m)
        if len(buf) < m.frag_cnt:
            continue
        d = (NMEAMessage.assemble_from_iterable(buf) if len(buf) > 1 else m).decode()
        buf = []
        if d.msg_type in (1, 3):
            last[d.mmsi] = (t, d.lat, d.lon, d.speed)
    # every navy unit ends the scenario slow, ≥ 20 NM from Tartus (international waters)
    for ship in scenario.NAVY:
        t, la, lo, kt = last[int(ship.mmsi)]
        assert kt < 2.5
        assert geo.haversine_m(la, lo, layout.TARTUS_LAT, layout.TARTUS_LON) > 20 * geo.NM_M


def test_sbs_lines_read_back(sc: scenario.Scenario) -> None:
    leg = next(lg for lg in sc.legs if lg.to_site and lg.airframe.typecode == "A124")
    tr = tracks.received(tracks.leg_track(leg), sc.dark)
    lines = sbs_lines([tr])
    rows = list(csv.reader(lines))
    assert all(len(r) == 22 and r[0] == "MSG" for r in rows)
    pos = [r for r in rows if r[1] in ("2", "3")]
    assert len(pos) == len(tr)
    assert {r[4] for r in rows} == {tr.icao24.upper()}
    assert float(pos[0][14]) == pytest.approx(tr.lat[0], abs=1e-5)
    assert float(pos[-1][15]) == pytest.approx(tr.lon[-1], abs=1e-5)
    assert pos[-1][1] == "2" and pos[-1][21] == "-1"  # surface position, on the ground
    ident = [r for r in rows if r[1] == "1"]
    assert ident and ident[0][10].strip() == leg.callsign
    times = [datetime.strptime(r[6] + " " + r[7], "%Y/%m/%d %H:%M:%S.%f") for r in rows]
    assert times == sorted(times)


def test_write_scenario_files(tmp_path: Path, sc: scenario.Scenario) -> None:
    man = write_scenario(sc, tmp_path, scenes=False)
    for p in (man.adsb, man.ais, man.observations, man.aircraft_db):
        assert "SIMULATED" in p.name and p.stat().st_size > 0
    obs = list(csv.DictReader(man.observations.open()))
    assert {o["simulated"] for o in obs} == {"true"}
    assert any("Maxar" in o["source"] for o in obs) and any("Flightradar24" in o["source"] for o in obs)
    db = list(csv.DictReader(man.aircraft_db.open()))
    russian = [r for r in db if r["typecode"] in ("A124", "IL76")]
    assert {r["typecode"] for r in russian} == {"A124", "IL76"} and len(russian) >= 10
    assert all(0x140000 <= int(r["icao24"], 16) <= 0x15FFFF for r in russian)  # Russian address block
    assert all(r["registration"].startswith("RA-") for r in russian)
    assert "SIMULATED" in (tmp_path / "README.SIMULATED.txt").read_text()
    from sitewatch.reference.aircraft_db import read_tar1090

    rows = {r["icao24"]: r for t in read_tar1090(man.aircraft_db_tar1090) for r in t.to_pylist()}
    assert {r["icao24"] for r in russian} <= set(rows)
    assert all(rows[r["icao24"]]["military"] and rows[r["icao24"]]["typecode"] == r["typecode"] for r in russian)
    assert {z for z, _, _ in man.zones["hmeimim"]} == {"runway", "apron", "park-north", "park-south"}


@settings(max_examples=150, deadline=None)
@given(mmsi=st.integers(200_000_000, 775_999_999), lat=st.floats(-89.9, 89.9), lon=st.floats(-179.9, 179.9),
       sog=st.floats(0, 102.2), cog=st.floats(0, 359.9), status=st.integers(0, 15), second=st.integers(0, 59))
def test_position_report_round_trip(mmsi: int, lat: float, lon: float, sog: float, cog: float, status: int,
                                    second: int) -> None:
    from pyais.messages import NMEAMessage

    p, fill = position_payload(mmsi, lat, lon, sog, cog, round(cog) % 360, status, second)
    (line,) = sentences(p, fill, 1733731200, "SIMULATED")
    d = NMEAMessage(line.split("\\")[-1].encode()).decode()
    assert (d.mmsi, d.status, d.second) == (mmsi, status, second)
    # 1/10000 minute quantum (1.7e-6°), and pyais rounds to 6 decimals
    assert d.lat == pytest.approx(lat, abs=2e-6) and d.lon == pytest.approx(lon, abs=2e-6)
    assert d.speed == pytest.approx(round(sog * 10) / 10, abs=1e-6)
    assert d.course == pytest.approx((round(cog * 10) % 3600) / 10, abs=1e-6)
