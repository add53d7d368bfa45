"""Air analytics on hand-checkable synthetic geometry: dark-visit, gap thresholds and coverage,
leg splitting (time gap, readsb landing gap), the two-box and aircraft queries, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sitewatch import geo
from sitewatch import sites as S
from sitewatch.analytics.air import _tracks as T
from sitewatch.analytics.air import dark_visit as DV
from sitewatch.analytics.air import flights as F
from sitewatch.analytics.air import gaps as G
from sitewatch.analytics.air import queries
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams
from sitewatch.cli import main
from sitewatch.errors import ConfigError, InputError
from sitewatch.store import positions_air as AIR
from sitewatch.store.db import Store

T0 = datetime(2024, 12, 8, 6, 0, tzinfo=UTC)


def _track(ident: str, t_s: np.ndarray, lat: np.ndarray, lon: np.ndarray, alt: np.ndarray,
           speed: float = 250.0, onground: bool | None = False) -> pa.Table:
    n = t_s.size
    return pa.table({
        "t_utc": pa.array([T0 + timedelta(seconds=float(s)) for s in t_s], pa.timestamp("us", tz="UTC")),
        "source": ["adsb"] * n, "id": [ident] * n, "lat": lat, "lon": lon, "alt_ft": alt,
        "speed_kt": np.full(n, speed), "track_deg": np.full(n, 90.0), "onground": [onground] * n,
    })


def _line(ident: str, t0: float, t1: float, lat0: float, lon0: float, lat1: float, lon1: float,
          alt0: float, alt1: float, step: float = 10.0) -> pa.Table:
    t = np.arange(t0, t1 + 1e-9, step)
    f = (t - t0) / max(t1 - t0, 1e-9)
    return _track(ident, t, lat0 + f * (lat1 - lat0), lon0 + f * (lon1 - lon0), alt0 + f * (alt1 - alt0))


# -- dark-visit on synthetic geometry ---------------------------------------------------------
def test_dark_visit_hand_checked() -> None:
    site = S.from_airport("hmeimim", "OSLK")
    lat0, lon0 = geo.destination(site.lat, site.lon, 247.5, 38_000.0)  # 38 km WSW
    lat1, lon1 = geo.destination(site.lat, site.lon, 0.0, 52_000.0)  # 52 km N
    decoy_lat, decoy_lon = geo.destination(site.lat, site.lon, 90.0, 150_000.0)
    af = Airfields(["OSLK", "DECOY", "SOUTH"], [site.lat, decoy_lat, 34.9], [site.lon, decoy_lon, 35.9],
                   [157.0, 0.0, 0.0], [site])
    g = DV.GapEnds(0.0, 6 * 3600.0, float(lat0), float(lon0), 9800.0, 67.5, -2500.0,
                   float(lat1), float(lon1), 9000.0, 0.0, 2500.0)
    p = AirParams()
    cands = DV.rank(g, af, p, cruise_kt=430.0, approach_kt=140.0)  # An-124 speeds
    assert cands[0]["airfield"] == "OSLK"
    best = cands[0]
    v = (430.0 + 140.0) / 2 * geo.KT_MS  # both legs < 100 km: mean of cruise and approach
    expect_ground = 6 * 3600 - 38_000 / v - 52_000 / v - 2 * p.terminal_s
    assert best["d_in_m"] == pytest.approx(38_000, rel=1e-3)
    assert best["d_out_m"] == pytest.approx(52_000, rel=1e-3)
    assert best["ground_s"] == pytest.approx(expect_ground, rel=1e-3)
    assert best["likelihood"] >= 0.8 and best["site"] == "hmeimim"
    text = DV.summary("An-124 RA-82042", g, best)
    print("\n" + text)
    assert text.startswith("An-124 RA-82042 very likely landed at hmeimim during the 6 h 00 min gap")
    assert "lost 38 km WSW of the site descending through 9,800 ft" in text
    assert "reacquired 52 km N climbing" in text and "estimated 5 h 42 min on the ground" in text


def test_dark_visit_infeasible_when_gap_too_short() -> None:
    site = S.from_airport("hmeimim", "OSLK")
    af = Airfields(["OSLK"], [site.lat], [site.lon], [157.0], [site])
    lat0, lon0 = geo.destination(site.lat, site.lon, 270.0, 300_000.0)
    lat1, lon1 = geo.destination(site.lat, site.lon, 90.0, 300_000.0)
    g = DV.GapEnds(0.0, 1800.0, float(lat0), float(lon0), 9000.0, 90.0, -2000.0, float(lat1), float(lon1),
                   9000.0, 90.0, 2000.0)
    assert DV.rank(g, af, AirParams(), 430.0, 140.0) == []  # 600 km in 30 min with a landing: impossible


# -- gaps: thresholds and the coverage map ------------------------------------------------------
def _store(*tables: pa.Table) -> Store:
    st = Store(":memory:")
    for t in tables:
        st.insert("positions", t)
    return st


def test_gap_thresholds_by_altitude() -> None:
    p = AirParams()
    low = pa.concat_tables([_line("aaaaa1", 0, 600, 35.0, 35.0, 35.0, 35.3, 5000, 5000),
                            _line("aaaaa1", 910, 1500, 35.0, 35.4, 35.0, 35.7, 5000, 5000)])  # 310 s gap
    high = pa.concat_tables([_line("bbbbb2", 0, 600, 36.0, 35.0, 36.0, 35.3, 30000, 30000),
                             _line("bbbbb2", 1200, 1800, 36.0, 35.4, 36.0, 35.7, 30000, 30000),  # 600 s
                             _line("bbbbb2", 2800, 3000, 36.0, 36.0, 36.0, 36.1, 30000, 30000)])  # 1000 s
    ev = G.compute(_store(low, high), AIR.store_relation(), p)
    got = sorted((e["subject"], round(e["details"]["duration_s"])) for e in ev)
    assert got == [("aaaaa1", 310), ("bbbbb2", 1000)]


def test_coverage_tells_switch_off_from_coverage_gap() -> None:
    p = AirParams()
    target = pa.concat_tables([_line("ccccc3", 0, 600, 35.0, 35.0, 35.0, 35.2, 8000, 8000),
                               _line("ccccc3", 3000, 3600, 35.0, 35.5, 35.0, 35.7, 8000, 8000)])
    # another aircraft, lower (harder to receive), heard all along around the point of loss
    other = _line("ddddd4", 0, 3600, 34.95, 35.1, 35.05, 35.3, 3000, 3000, step=20.0)
    on = G.compute(_store(target, other), AIR.store_relation(), p)
    off = G.compute(_store(target), AIR.store_relation(), p)
    gap_on = next(e for e in on if e["subject"] == "ccccc3")
    gap_off = next(e for e in off if e["subject"] == "ccccc3")
    assert gap_on["details"]["cause"] == "likely transponder-off" and gap_on["confidence"] >= 0.6
    assert gap_off["details"]["cause"] == "coverage gap" and gap_off["confidence"] < 0.3


# -- legs --------------------------------------------------------------------------------------
def test_legs_split_at_gap_and_landing_gap() -> None:
    p = AirParams()
    a = _line("eeeee5", 0, 600, 35.0, 35.0, 35.0, 35.3, 3000, 3000)
    b = _line("eeeee5", 1400, 1800, 35.0, 35.4, 35.0, 35.6, 3000, 3000)  # 800 s gap: new leg
    c = _line("eeeee5", 1810, 2100, 35.0, 35.6, 35.0, 35.62, 2500, 800)  # descending low
    d = _line("eeeee5", 2500, 2800, 35.0, 35.64, 35.0, 35.7, 800, 2500)  # 400 s later climbing: landed
    st = _store(pa.concat_tables([a, b, c, d]))
    parts = list(AIR.track_partitions(st, AIR.store_relation()))
    legs = F.legs(T.from_arrow(parts[0]), Airfields([], [], [], []), p)
    assert legs.column("split_start").to_pylist() == ["track-start", "gap", "landing-gap"]
    # c's first report repeats b's last position at flying speed: stale, dropped
    assert legs.column("n_positions").to_pylist() == [61, 41 + 30 - 1, 31]


def test_params_from_settings_reject_unknown() -> None:
    from sitewatch.analytics.air._params import from_settings

    assert from_settings({"air": {"gap_low_s": 240}}).gap_low_s == 240.0
    with pytest.raises(ConfigError, match="not a known parameter"):
        from_settings({"air": {"gap_lo_s": 240}})


# -- queries -----------------------------------------------------------------------------------
def test_two_box_finds_vanished_and_reappeared() -> None:
    a = _line("fffff6", 0, 600, 35.40, 35.90, 35.40, 36.00, 2000, 2000)  # inside box A
    b = _line("fffff6", 7200, 7800, 34.00, 38.00, 34.00, 38.10, 2000, 2000)  # 2 h later inside box B
    st = _store(pa.concat_tables([a, b]))
    box_a = queries.parse_area("35.8,35.3,36.1,35.5", {})
    box_b = queries.parse_area("37.9,33.9,38.2,34.1", {})
    rows = queries.two_box(st, box_a, box_b, 3600, 8 * 3600)
    assert len(rows) == 1 and rows[0]["id"] == "fffff6" and rows[0]["n_between"] == 0
    assert rows[0]["gap_s"] == pytest.approx(6600)
    assert queries.two_box(st, box_a, box_b, 7000, 8 * 3600) == []  # min-gap excludes it
    assert queries.two_box(st, box_a, box_b, 0, 3600) == []  # max-gap excludes it


def test_query_parsers_reject_bad_input() -> None:
    assert queries.parse_duration("1h30m") == 5400 and queries.parse_duration("90s") == 90
    with pytest.raises(InputError, match="not a duration"):
        queries.parse_duration("8 hours")
    with pytest.raises(InputError, match="neither a site"):
        queries.parse_area("nowhere", {})
    with pytest.raises(InputError, match="min < max"):
        queries.parse_area("36,35,35,36", {})
    site = S.from_airport("hmeimim", "OSLK", radius_km=6)
    area = queries.parse_area("hmeimim", {"hmeimim": site})
    assert area.radius_m == 6000 and area.centre == (site.lat, site.lon)


def test_cli_query_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(tmp_path / "w")
    assert main(["init", w]) == 0
    assert main(["-w", w, "site", "add", "hmeimim", "--airport", "OSLK", "--radius-km", "6"]) == 0
    from sitewatch.workspace import Workspace

    with Workspace.open(w) as ws:
        ws.store.insert("positions", pa.concat_tables([
            _line("abc123", 0, 600, 35.40, 35.94, 35.41, 35.95, 500, 2000),
            _line("abc123", 9000, 9600, 34.00, 38.00, 34.00, 38.10, 2000, 2000)]))
        ws.store.upsert("aircraft", pa.table({"icao24": ["abc123"], "typecode": ["A124"], "military": [True],
                                              "registration": ["RA-82042"]}))
    capsys.readouterr()
    assert main(["-w", w, "query", "two-box", "--a", "hmeimim", "--b", "37.9,33.9,38.2,34.1", "--min-gap", "1h",
                 "--max-gap", "8h", "--format", "ndjson"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["abc123"] and rows[0]["n_between"] == 0
    assert main(["-w", w, "query", "aircraft", "--type", "A124,IL76", "--military", "--near", "hmeimim",
                 "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["registration"] == "RA-82042" and rows[0]["role"] == "strategic-transport"
    assert main(["-w", w, "query", "aircraft", "--type", "IL76", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["-w", w, "query", "two-box", "--a", "x", "--b", "hmeimim"]) == 2
    assert "neither a site" in capsys.readouterr().err


def test_cli_analyze_then_events_lists_arrival_with_evidence(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A synthetic An-124 landing at Hmeimim: 10 min descending approach from the WSW along the
    runway course, 20 min slow on the ground, then a climb-out: arrival + departure at the site."""
    w = str(tmp_path / "w")
    assert main(["init", w]) == 0
    assert main(["-w", w, "site", "add", "hmeimim", "--airport", "OSLK"]) == 0
    site = S.from_airport("hmeimim", "OSLK")
    td_lat, td_lon = geo.destination(site.lat, site.lon, 250.0, 1500.0)  # touchdown 1.5 km WSW
    far_lat, far_lon = geo.destination(td_lat, td_lon, 250.0, 40_000.0)
    stop_lat, stop_lon = geo.destination(td_lat, td_lon, 70.0, 1500.0)
    out_lat, out_lon = geo.destination(stop_lat, stop_lon, 70.0, 40_000.0)
    app = _line("aabbcc", 0, 600, float(far_lat), float(far_lon), float(td_lat), float(td_lon), 8000, 200)
    roll = _line("aabbcc", 610, 1800, float(td_lat), float(td_lon), float(stop_lat), float(stop_lon), 150, 150)
    roll = roll.set_column(roll.column_names.index("onground"), "onground", pa.array([True] * roll.num_rows))
    dep = _line("aabbcc", 1810, 2400, float(stop_lat), float(stop_lon), float(out_lat), float(out_lon), 300, 9000)
    from sitewatch.workspace import Workspace

    with Workspace.open(w) as ws:
        ws.store.insert("positions", pa.concat_tables([app, roll, dep]))
    capsys.readouterr()
    assert main(["-w", w, "analyze", "--only", "air"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["by_analysis"]["air.site-events"] >= 2
    assert main(["-w", w, "events", "--site", "hmeimim", "--kind", "arrival,departure", "--format", "ndjson",
                 "--evidence"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["arrival", "departure"]
    arr = rows[0]
    assert arr["subject"] == "aabbcc" and arr["details"]["airfield"] == "OSLK" and arr["confidence"] >= 0.6
    assert arr["details"]["descent_ft"] > 3000 and arr["evidence_rows"][0]
    assert all(r["id"] == "aabbcc" for r in arr["evidence_rows"][0])
    assert main(["-w", w, "query", "flights", "--aircraft", "aabbcc", "--format", "json"]) == 0
    legs = json.loads(capsys.readouterr().out)
    assert [(f["split_start"], f["destination"] if i == 0 else f["origin"]) for i, f in enumerate(legs)] == [
        ("track-start", "OSLK"), ("ground", "OSLK")]


def _site_events(*tables: pa.Table, sites: tuple[S.Site, ...] = ()) -> list[dict[str, object]]:
    from sitewatch.analytics.air import site_events as SE

    st = _store(*tables)
    part = next(iter(AIR.track_partitions(st, AIR.store_relation())))
    p = AirParams()
    return SE.finalize(SE.detect(T.from_arrow(part), Airfields.default(sites), p), p)


def test_touch_and_go_low_approach_and_overflight() -> None:
    site = S.from_airport("hmeimim", "OSLK")  # elevation 157 ft
    a_lat, a_lon = geo.destination(site.lat, site.lon, 250.0, 20_000.0)
    b_lat, b_lon = geo.destination(site.lat, site.lon, 70.0, 20_000.0)
    lat, lon = float(a_lat), float(a_lon)
    mlat, mlon = site.lat, site.lon
    blat, blon = float(b_lat), float(b_lon)
    # touch-and-go: down to the field (200 ft ≈ 43 ft above it) at 140 kt, straight back up
    tg = pa.concat_tables([_line("a00001", 0, 300, lat, lon, mlat, mlon, 3000, 200),
                           _line("a00001", 310, 610, mlat + 1e-4, mlon + 1e-4, blat, blon, 200, 3000)])
    # low approach / go-around: down to 800 ft (643 ft above the field), back up
    ga = pa.concat_tables([_line("a00002", 0, 300, lat, lon, mlat, mlon, 3000, 800),
                           _line("a00002", 310, 610, mlat + 1e-4, mlon + 1e-4, blat, blon, 800, 3000)])
    # overflight of the watched site at 9,000 ft
    of = _line("a00003", 0, 600, lat, lon, blat, blon, 9000, 9000)
    ev = _site_events(tg, ga, of, sites=(site,))
    kinds = {(e["subject"], e["kind"]) for e in ev}
    assert ("a00001", "touch-and-go") in kinds and ("a00001", "arrival") not in kinds
    assert ("a00002", "approach") in kinds and ("a00002", "touch-and-go") not in kinds
    assert ("a00003", "overflight") in kinds and ("a00003", "approach") not in kinds
    tg_ev = next(e for e in ev if e["kind"] == "touch-and-go")
    assert tg_ev["details"]["airfield"] == "OSLK" and tg_ev["site"] == "hmeimim"
    assert tg_ev["details"]["min_agl_ft"] == pytest.approx(43, abs=30)
