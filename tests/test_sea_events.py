"""Sea events on small synthetic tracks whose answers can be checked by hand."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from shapely.geometry import box

from sitewatch import geo
from sitewatch.analytics.base import AnalysisContext, discover, run
from sitewatch.analytics.sea import departures, encounters, gaps, port_visits
from sitewatch.errors import ConfigError
from sitewatch.sites import Site, Zone, circle_site
from sitewatch.store import positions_sea
from sitewatch.store.db import Store

T0 = datetime(2024, 12, 8, 0, 0, tzinfo=UTC)
PORT = (35.0, 20.0)  # a made-up port point in the open sea: no WPI port within 100 km


def track(mmsi: str, legs: Iterable[tuple[float, float, float, float]], t0: datetime = T0,
          step_s: float = 60.0) -> list[tuple[str, datetime, float, float]]:
    """Positions every ``step_s`` along legs (bearing_deg, dist_m, duration_s, pause_after_s)."""
    lat, lon = PORT[0] - 0.09, PORT[1]  # start 10 km south of the port
    t = t0
    out = [(mmsi, t, lat, lon)]
    for brg, dist_m, dur_s, pause_s in legs:
        n = max(1, int(dur_s // step_s))
        for _ in range(n):
            lat, lon = geo.destination(lat, lon, brg, dist_m / n)
            t += timedelta(seconds=dur_s / n)
            out.append((mmsi, t, float(lat), float(lon)))
        if pause_s:
            t += timedelta(seconds=pause_s)
            out.append((mmsi, t, lat, lon))
    return out


def store_with(rows: list[tuple[str, datetime, float, float]], speed_kt: list[float] | None = None) -> Store:
    s = Store(":memory:")
    tbl = pa.table({
        "id": [r[0] for r in rows], "t_utc": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        "lat": [float(r[2]) for r in rows], "lon": [float(r[3]) for r in rows],
        "speed_kt": pa.array(speed_kt if speed_kt is not None else [None] * len(rows), pa.float64()),
        "source": ["ais"] * len(rows), "format": ["test"] * len(rows),
    })
    s.insert("positions", tbl, dedupe=False)
    return s


def port_site(**kw: object) -> Site:
    return circle_site("harbour", "port", PORT[0], PORT[1], 3.0, label="Test harbour", **kw)  # type: ignore[arg-type]


def details(tbl: pa.Table) -> list[dict[str, Any]]:
    return [json.loads(d) for d in tbl.column("details").to_pylist()]


def test_confidence_levels_follow_gfw() -> None:
    lvl = port_visits.confidence_level
    assert lvl(True, True, True, False) == 4
    assert lvl(True, True, False, True) == 4
    assert lvl(True, False, True, False) == 3
    assert lvl(False, True, False, True) == 3
    assert lvl(False, False, True, False) == 2
    assert lvl(True, True, False, False) == 1
    assert lvl(True, False, False, False) == 1


def test_port_visit_with_stop_gap_and_hysteresis() -> None:
    # in from 10 km south (30 min), stop 2 h at the port point, AIS silent 5 h, drift to 3.5 km
    # north (inside the 4 km exit radius: no exit), back, then leave 12 km north
    legs = [(0.0, 10_000, 1800, 0), (0.0, 1.0, 7200, 5 * 3600), (0.0, 3500, 1800, 0), (180.0, 3500, 1800, 0),
            (0.0, 12_000, 2400, 0)]
    rows = track("244000001", legs)
    s = store_with(rows)
    ctx = AnalysisContext(s, {"harbour": port_site()})
    out = port_visits.port_visits(ctx)
    site_rows = [d for d, site in zip(details(out), out.column("site").to_pylist(), strict=True) if site == "harbour"]
    assert len(site_rows) == 1
    d = site_rows[0]
    assert d["confidence_level"] == 4 and d["gfw_events"] == ["entry", "stop", "gap", "exit"]
    assert d["port_gaps"] == 1 and d["port_gap_h"] == pytest.approx(5.0, abs=0.05)
    assert d["stopped_h"] == pytest.approx(2.0, abs=0.05)  # the 2 h alongside; the gap is not a stop
    # arrival: first position within 3 km; departure: first position beyond 4 km
    dist = geo.haversine_m(PORT[0], PORT[1], np.array([r[2] for r in rows]), np.array([r[3] for r in rows]))
    first_in = next(i for i, x in enumerate(dist) if x < 3000)
    first_out = next(i for i in range(first_in, len(rows)) if dist[i] > 4000)
    assert datetime.fromisoformat(str(d["arrival"])) == rows[first_in][1]
    assert datetime.fromisoformat(str(d["departure"])) == rows[first_out][1]
    assert out.column("confidence").to_pylist()[0] == 1.0


def test_passage_without_stop_is_level_1_and_dropped_by_default() -> None:
    rows = track("244000002", [(0.0, 20_000, 3600, 0)])  # straight through at ~10.8 kn
    s = store_with(rows)
    site = port_site()
    assert port_visits.port_visits(AnalysisContext(s, {"harbour": site})).num_rows == 0
    ctx = AnalysisContext(s, {"harbour": site}, settings={"sea": {"port_visit": {"min_confidence": 1}}})
    out = port_visits.port_visits(ctx)
    assert [d["confidence_level"] for d in details(out)] == [1]


def test_reported_speed_is_used_over_implied() -> None:
    rows = track("244000003", [(0.0, 10_000, 1800, 0), (0.0, 1.0, 3600, 0)])
    moving = [3.0] * len(rows)  # the feed says 3 kn throughout: no stop, whatever the positions say
    ctx = AnalysisContext(store_with(rows, moving), {"harbour": port_site()},
                          settings={"sea": {"port_visit": {"min_confidence": 1}}})
    d = details(port_visits.port_visits(ctx))
    assert d and not any("stop" in x["gfw_events"] for x in d)  # type: ignore[operator]


def test_bad_setting_raises_config_error() -> None:
    ctx = AnalysisContext(Store(":memory:"), {}, settings={"sea": {"gap": {"min_gap_h": "six"}}})
    with pytest.raises(ConfigError, match=r"sea\.gap\.min_gap_h"):
        gaps.ais_gaps(ctx)


def test_gap_rows_match_the_track() -> None:
    rows = track("244000004", [(90.0, 1000, 600, 7 * 3600), (90.0, 1000, 600, 5 * 3600), (90.0, 1000, 600, 0)])
    s = store_with(rows)
    g = positions_sea.gap_rows(s, 6 * 3600, 12 * 3600).to_pylist()
    assert len(g) == 1  # the 7 h gap, not the 5 h one
    r = g[0]
    assert r["gap_s"] == pytest.approx(7 * 3600)
    before = [x for x in rows if x[1] <= r["t_start"]]
    assert (before[-1][2], before[-1][3]) == pytest.approx((r["lat0"], r["lon0"]))
    assert r["n_before"] == 11  # the 10 steps plus the start, all within 12 h
    assert r["implied_kt"] == pytest.approx(0.0, abs=1e-6)


def test_intentional_needs_every_gfw_criterion() -> None:
    p = {k: float(v) for k, v in gaps.DEFAULTS.items()}
    assert gaps.is_intentional(13, 60, 70, 20, p)
    assert not gaps.is_intentional(8, 60, 70, 20, p)  # too short
    assert not gaps.is_intentional(13, 40, 70, 20, p)  # one end near shore
    assert not gaps.is_intentional(13, 60, 70, 5, p)  # sparse reception before


def quay_site() -> Site:
    site = port_site()
    # quay: a 600 m box around the port point
    q = box(PORT[1] - 0.0033, PORT[0] - 0.0027, PORT[1] + 0.0033, PORT[0] + 0.0027)
    return site.with_zone(Zone("quay-1", q, "quay"))


def test_departure_from_quay() -> None:
    at_quay = track("244000005", [(0.0, 10_000, 1800, 0), (0.0, 1.0, 3600, 0), (0.0, 8000, 1800, 0)])
    passing = track("244000006", [(0.0, 20_000, 3600, 0)])  # crosses the quay without stopping
    s = store_with(at_quay + passing)
    out = departures.departures(AnalysisContext(s, {"harbour": quay_site()}))
    assert out.column("subject").to_pylist() == ["244000005"]
    d = details(out)[0]
    assert d["quay_basis"] == "quay-zone" and d["heading"] == "N"
    site = quay_site()
    first_out = d["first_outside"]
    last_in = d["last_inside"]
    assert not site.contains(first_out["lat"], first_out["lon"])  # type: ignore[index]
    assert site.contains(last_in["lat"], last_in["lon"])  # type: ignore[index]


def test_departure_without_quay_zone_says_so() -> None:
    s = store_with(track("244000007", [(0.0, 10_000, 1800, 0), (0.0, 1.0, 3600, 0), (0.0, 8000, 1800, 0)]))
    d = details(departures.departures(AnalysisContext(s, {"harbour": port_site()})))
    assert len(d) == 1 and d[0]["quay_basis"] == "watch-area" and "no quay zone" in str(d[0]["quay_note"])


def pair_tracks(sep_m: float) -> list[tuple[str, datetime, float, float]]:
    a = track("244000010", [(0.0, 1500, 3 * 3600, 0)], step_s=300)  # 0.27 kn for 3 h
    b = []
    for _, t, la, lo in a:
        la2, lo2 = geo.destination(la, lo, 90.0, sep_m)
        b.append(("244000011", t, float(la2), float(lo2)))
    return a + b


def test_encounter_found_for_both_vessels_and_ids_are_stable() -> None:
    s = store_with(pair_tracks(200.0))
    ctx = AnalysisContext(s, {})
    out = encounters.encounters(ctx)
    assert sorted(out.column("subject").to_pylist()) == ["244000010", "244000011"]
    d = details(out)[0]
    assert d["min_dist_m"] == pytest.approx(200.0, abs=1.0) and d["duration_h"] >= 2.0
    assert encounters.encounters(ctx).column("event_id").to_pylist() == out.column("event_id").to_pylist()


def test_no_encounter_beyond_500_m() -> None:
    assert encounters.encounters(AnalysisContext(store_with(pair_tracks(800.0)), {})).num_rows == 0


def test_sea_analyses_are_registered_and_idempotent() -> None:
    regs = discover()
    for name in ("sea.port-visits", "sea.departures", "sea.gaps", "sea.loitering", "sea.encounters"):
        assert name in regs
    rows = track("244000005", [(0.0, 10_000, 1800, 0), (0.0, 1.0, 3600, 0), (0.0, 8000, 1800, 0)])
    s = store_with(rows)
    ctx = AnalysisContext(s, {"harbour": quay_site()})
    first = {r.analysis: r.events for r in run(ctx, ["sea.port-visits", "sea.departures"])}
    ids = sorted(x[0] for x in s.sql("SELECT event_id FROM events"))
    second = {r.analysis: r.events for r in run(ctx, ["sea.port-visits", "sea.departures"])}
    assert first == second and first["sea.departures"] == 1 and first["sea.port-visits"] >= 1
    assert sorted(x[0] for x in s.sql("SELECT event_id FROM events")) == ids


def offshore_track(mmsi: str, lat0: float, lon0: float, legs: Iterable[tuple[float, float, float, float]],
                   step_s: float = 60.0) -> list[tuple[str, datetime, float, float]]:
    rows = track(mmsi, legs, step_s=step_s)
    dlat, dlon = lat0 - rows[0][2], lon0 - rows[0][3]
    return [(m, t, la + dlat, lo + dlon) for m, t, la, lo in rows]


@pytest.mark.slow
def test_offshore_silence_after_dense_reception_is_intentional() -> None:
    # mid-Atlantic: 12 h of reports every 5 min, 13 h silent, back 60 km further east
    rows = offshore_track("244000020", 35.0, -40.0, [(90.0, 200_000, 12 * 3600, 13 * 3600), (90.0, 60_000, 600, 0)],
                          step_s=300)
    near = offshore_track("244000021", 36.95, -76.2, [(90.0, 20_000, 12 * 3600, 13 * 3600), (90.0, 5_000, 600, 0)],
                          step_s=300)  # the same off Norfolk: near shore, so likely coverage
    out = gaps.ais_gaps(AnalysisContext(store_with(rows + near), {}))
    by = {s: d for s, d in zip(out.column("subject").to_pylist(), details(out), strict=True)}
    far = by["244000020"]
    assert far["intentional"] and far["cause"] == "likely-intentional"
    assert far["before"]["shore_nm"] > 50 and far["after"]["shore_nm"] > 50 and far["positions_before"] >= 14
    assert not by["244000021"]["intentional"]
    assert any("shore" in r for r in by["244000021"]["not_intentional_because"])


@pytest.mark.slow
def test_loitering_offshore_only() -> None:
    from sitewatch.analytics.sea import loitering

    slow = [(45.0, 9_000, 5 * 3600, 0)]  # 9 km in 5 h: 0.97 kn
    far = offshore_track("244000030", 35.0, -40.0, slow, step_s=300)
    coast = offshore_track("244000031", 36.97, -76.05, slow, step_s=300)  # Chesapeake Bay mouth
    out = loitering.loitering(AnalysisContext(store_with(far + coast), {}))
    assert out.column("subject").to_pylist() == ["244000030"]
    d = details(out)[0]
    assert d["mean_kt"] == pytest.approx(9_000 / 5 / geo.NM_M, rel=0.02) and d["duration_h"] >= 4.9
    assert d["min_shore_nm"] > 400  # 35 N 40 W: about 490 NM from the Azores


@pytest.mark.parametrize("engine", ["numpy", "sql"])
def test_time_window_limits_the_data_read(engine: str) -> None:
    rows = track("244000040", [(90.0, 1000, 600, 7 * 3600), (90.0, 1000, 600, 0)])
    s = store_with(rows)
    gap_start = rows[10][1]
    settings = {"sea": {"engine": engine}}
    assert gaps.ais_gaps(AnalysisContext(s, {}, settings=settings)).num_rows == 1
    before = AnalysisContext(s, {}, settings=settings, t_to=gap_start + timedelta(hours=1))
    after = AnalysisContext(s, {}, settings=settings, t_from=gap_start + timedelta(minutes=1))
    assert gaps.ais_gaps(before).num_rows == 0 and gaps.ais_gaps(after).num_rows == 0


def test_positions_with_inferred_times_are_ignored() -> None:
    rows = track("244000050", [(90.0, 1000, 600, 7 * 3600), (90.0, 1000, 600, 0)])
    s = store_with(rows)
    assert gaps.ais_gaps(AnalysisContext(s, {})).num_rows == 1
    s.sql("UPDATE positions SET time_inferred = TRUE")
    for engine in ("numpy", "sql"):
        assert gaps.ais_gaps(AnalysisContext(s, {}, settings={"sea": {"engine": engine}})).num_rows == 0


def test_vessel_identity_in_summary_and_details() -> None:
    s = store_with(track("273000001", [(0.0, 10_000, 1800, 0), (0.0, 1.0, 3600, 0), (0.0, 8000, 1800, 0)]))
    s.upsert("vessels", pa.table({"mmsi": ["273000001"], "name": ["ADMIRAL TEST"], "flag": ["RU"],
                                  "government": [True], "watch": [True]}))
    out = port_visits.port_visits(AnalysisContext(s, {"harbour": port_site()}))
    assert out.column("summary").to_pylist()[0].startswith("ADMIRAL TEST (MMSI 273000001, government, watchlist)")
    assert details(out)[0]["vessel"]["flag"] == "RU"


# -- sites of every kind: a stop in a site's watch area is a visit to it -----------------------------

STOP_LEGS = [(0.0, 10_000, 1800, 0), (0.0, 1.0, 7200, 0), (0.0, 12_000, 2400, 0)]  # in, 2 h at PORT, out


def _site_events(out: pa.Table, site: str) -> list[dict[str, Any]]:
    return [d for d, s in zip(details(out), out.column("site").to_pylist(), strict=True) if s == site]


@pytest.mark.parametrize("engine", ["numpy", "sql"])
@pytest.mark.parametrize("kind", ["other", "depot", "airbase"])
def test_point_site_of_any_kind_gets_the_visit(engine: str, kind: str) -> None:
    """``site add quay7 --point LAT,LON --kind other``: ships that stop inside it visit it."""
    s = store_with(track("244000060", STOP_LEGS))
    site = circle_site("quay7", kind, PORT[0], PORT[1], 2.0)
    out = port_visits.port_visits(AnalysisContext(s, {"quay7": site}, settings={"sea": {"engine": engine}}))
    d = _site_events(out, "quay7")
    assert len(d) == 1 and d[0]["layer"] == "site" and d[0]["confidence_level"] == 4
    assert d[0]["stopped_h"] == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("engine", ["numpy", "sql"])
def test_visit_needs_the_stay_inside_the_area(engine: str) -> None:
    """A 2 km site 2.6 km from where the ship stopped: within GFW's 3 km entry radius of its
    point, but not in its area — no visit. A 10 km site whose point is 6 km away: a visit."""
    s = store_with(track("244000061", STOP_LEGS))
    la, lo = geo.destination(PORT[0], PORT[1], 90.0, 2600.0)
    small = circle_site("near", "other", float(la), float(lo), 2.0)
    la, lo = geo.destination(PORT[0], PORT[1], 90.0, 6000.0)
    big = circle_site("range", "other", float(la), float(lo), 10.0)
    out = port_visits.port_visits(AnalysisContext(s, {"near": small, "range": big},
                                                  settings={"sea": {"engine": engine}}))
    assert _site_events(out, "near") == []
    d = _site_events(out, "range")
    assert len(d) == 1 and d[0]["confidence_level"] >= 3


def test_overlapping_sites_each_get_the_visit() -> None:
    s = store_with(track("244000062", STOP_LEGS))
    sites = {"harbour": port_site(), "base": circle_site("base", "airbase", PORT[0] + 0.01, PORT[1], 5.0)}
    out = port_visits.port_visits(AnalysisContext(s, sites))
    assert len(_site_events(out, "harbour")) == 1 and len(_site_events(out, "base")) == 1
    assert len(set(out.column("event_id").to_pylist())) == out.num_rows
