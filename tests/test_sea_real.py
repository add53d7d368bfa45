"""Sea events on real public-domain AIS (tracktable-data: MarineCadastre tracks).

* Virginia Beach, 4-6 June 2020, and the US coast on 30 June 2020: visits and departures
  at a ``norfolk`` port site on Naval Station Norfolk (36.95 N 76.33 W);
* New York harbour, first week of December 2020 (real gaps up to 123 h): every ``ais-gap``
  event is checked against the raw track, and the raw track against the events.

Figures are printed (``pytest -s``) for the development notes.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from tests.conftest import tracktable

from sitewatch import geo, vessels
from sitewatch.analytics.base import AnalysisContext
from sitewatch.analytics.sea import departures, encounters, gaps, loitering, port_visits
from sitewatch.reference import ports
from sitewatch.sites import Site, circle_site
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths

pytestmark = pytest.mark.slow

NORFOLK = (36.95, -76.33)  # Naval Station Norfolk piers


def norfolk() -> Site:
    return circle_site("norfolk", "port", *NORFOLK, label="Naval Station Norfolk")


def _store(name: str) -> Iterator[Store]:
    path = tracktable(f"python_example_data/{name}")
    s = Store(":memory:")
    res = ingest_paths(s, "ais", [str(path)], "traj")
    assert res.as_json()["accepted"] > 0
    vessels.refresh(s)  # identity: government markers from MMSI blocks (no static data in .traj)
    yield s
    s.close()


@pytest.fixture(scope="module")
def virginia() -> Iterator[Store]:
    yield from _store("VirginiaBeach_2020_06_04_to_06_filtered.traj")


@pytest.fixture(scope="module")
def us_coast() -> Iterator[Store]:
    yield from _store("US_coastal_2020_06_30.traj")


@pytest.fixture(scope="module")
def ny_week() -> Iterator[Store]:
    yield from _store("NYHarbor_2020_12_first_week.traj")


def rows(tbl: Any) -> list[dict[str, Any]]:
    out = tbl.to_pylist()
    for r in out:
        r["details"] = json.loads(r["details"])
    return out


def position_at(s: Store, mmsi: str, t: Any) -> tuple[float, float]:
    r = s.sql("SELECT lat, lon FROM positions WHERE id = ? AND t_utc = ? ORDER BY lat, lon LIMIT 1", [mmsi, t])
    assert r, f"no position of {mmsi} at {t}"
    return float(r[0][0]), float(r[0][1])


def check_site_visits(s: Store, events: list[dict[str, Any]]) -> None:
    for e in events:
        d = e["details"]
        la, lo = position_at(s, e["subject"], e["t_start"])
        assert geo.haversine_m(*NORFOLK, la, lo) < 3000  # arrival: first position within 3 km
        if d["departure_observed"]:
            la, lo = position_at(s, e["subject"], e["t_end"])
            assert geo.haversine_m(*NORFOLK, la, lo) > 4000  # departure: first position beyond 4 km
        assert timedelta(0) <= e["t_end"] - e["t_start"] < timedelta(days=3)
        assert d["confidence_level"] >= 2 and e["confidence"] == d["confidence_level"] / 4


def test_norfolk_visits_virginia_beach(virginia: Store) -> None:
    ctx = AnalysisContext(virginia, {"norfolk": norfolk()})
    ev = rows(port_visits.port_visits(ctx))
    site = [e for e in ev if e["site"] == "norfolk"]
    levels = Counter(e["details"]["confidence_level"] for e in site)
    print(f"\nVirginia Beach: {len(ev)} port visits, {len(site)} at the norfolk site, levels {dict(levels)}")
    for e in site[:6]:
        print("  ", e["summary"])
    check_site_visits(virginia, site)
    assert len(site) >= 10 and levels[4] >= 3
    # 367554180: arrived 4 June ~12:17, stopped, left 5 June ~17:39 (GFW confidence 4)
    full = [e for e in site if e["subject"] == "367554180" and e["details"]["confidence_level"] == 4]
    assert full and timedelta(hours=20) < full[0]["t_end"] - full[0]["t_start"] < timedelta(hours=40)
    # 367432880 moored at the piers the whole time it was seen (no entry, no exit: level 2)
    moored = [e for e in site if e["subject"] == "367432880"]
    assert moored and not moored[0]["details"]["arrival_observed"] and moored[0]["details"]["first_stop"]
    check_government(virginia, ctx, min_site_passages=3)


def government(s: Store) -> set[str]:
    return {r[0] for r in s.sql("SELECT mmsi FROM vessels WHERE government")}


def check_government(s: Store, ctx: AnalysisContext, min_site_passages: int) -> None:
    """Government vessels (Navy/MSC 3699xxxxx, USCG 366999xxx blocks): they pass through the
    Naval Station Norfolk site without stopping (level 1, shown with min_confidence 1), and
    the USCG cutter 366999275 stays, stopped, at the WPI port of Norfolk (Elizabeth River)."""
    gov = government(s)
    ctx1 = AnalysisContext(s, ctx.sites, settings={"sea": {"port_visit": {"min_confidence": 1}}})
    ev = [e for e in rows(port_visits.port_visits(ctx1)) if e["subject"] in gov]
    at_site = [e for e in ev if e["site"] == "norfolk"]
    print(f"government vessels: {len(gov)}; their visits (all levels) {len(ev)}, at the norfolk site "
          f"{len(at_site)} (levels {dict(Counter(e['details']['confidence_level'] for e in at_site))})")
    for e in at_site[:3] + [e for e in ev if e["subject"] == "366999275"][:2]:
        print("  ", e["summary"])
    assert len(at_site) >= min_site_passages
    assert all("(government)" in e["summary"] for e in ev)
    cutter = [e for e in ev if e["subject"] == "366999275" and e["details"]["port"].startswith("Norfolk (United")]
    assert cutter and all(e["details"]["confidence_level"] >= 3 and e["details"]["first_stop"] for e in cutter)


def test_norfolk_visits_us_coast(us_coast: Store) -> None:
    ctx = AnalysisContext(us_coast, {"norfolk": norfolk()})
    ev = rows(port_visits.port_visits(ctx))
    site = [e for e in ev if e["site"] == "norfolk"]
    print(f"\nUS coast: {len(ev)} port visits at {len({e['details']['port'] for e in ev})} ports; "
          f"{len(site)} at norfolk; levels "
          f"{dict(Counter(e['details']['confidence_level'] for e in ev))}")
    for e in site:
        print("  ", e["summary"])
    check_site_visits(us_coast, site)
    assert any(e["subject"] == "338926112" and e["details"]["confidence_level"] == 4 for e in site)
    check_government(us_coast, ctx, min_site_passages=2)


def test_departures_from_norfolk(virginia: Store) -> None:
    site = norfolk()
    ev = rows(departures.departures(AnalysisContext(virginia, {"norfolk": site})))
    print(f"\nVirginia Beach: {len(ev)} departures from norfolk (watch area as quay), e.g.")
    for e in ev[:4]:
        print("  ", e["summary"])
    assert len(ev) >= 5
    for e in ev:
        d = e["details"]
        assert d["quay_basis"] == "watch-area" and d["at_quay_h"] >= 0.5
        assert site.contains(d["last_inside"]["lat"], d["last_inside"]["lon"])
        assert not site.contains(d["first_outside"]["lat"], d["first_outside"]["lon"])
        assert e["t_start"] < e["t_end"]
        # nothing of this vessel between the last position inside and the first outside
        n = virginia.scalar("SELECT count(*) FROM positions WHERE id = ? AND t_utc > ? AND t_utc < ?",
                            [e["subject"], e["t_start"], e["t_end"]])
        assert n == 0


def test_every_gap_matches_the_raw_track(ny_week: Store) -> None:
    ev = rows(gaps.ais_gaps(AnalysisContext(ny_week, {})))
    hours = [e["details"]["gap_h"] for e in ev]
    causes = Counter(e["details"]["cause"] for e in ev)
    print(f"\nNY harbour week: {len(ev)} ais-gap events, max {max(hours):.1f} h, causes {dict(causes)}")
    for e in sorted(ev, key=lambda e: -e["details"]["gap_h"])[:3]:
        print("  ", e["summary"])
    assert max(hours) > 120  # the file's real 123 h gap
    raw = ny_week.arrow("SELECT id, t_utc, lat, lon FROM positions ORDER BY id, t_utc, lat, lon").to_pydict()
    track: dict[str, list[tuple[Any, float, float]]] = {}
    for mmsi, t, la, lo in zip(raw["id"], raw["t_utc"], raw["lat"], raw["lon"], strict=True):
        track.setdefault(mmsi, []).append((t, la, lo))
    for e in ev:
        mmsi, t0, t1 = e["subject"], e["t_start"], e["t_end"]
        pts = track[mmsi]
        inside = [p for p in pts if t0 < p[0] < t1]
        assert not inside, f"{mmsi} has positions inside its gap {t0}..{t1}"
        d = e["details"]
        assert (d["before"]["lat"], d["before"]["lon"]) in [(p[1], p[2]) for p in pts if p[0] == t0]
        assert (d["after"]["lat"], d["after"]["lon"]) in [(p[1], p[2]) for p in pts if p[0] == t1]
        assert d["gap_h"] == pytest.approx((t1 - t0).total_seconds() / 3600, abs=1e-3)
        assert not d["intentional"]  # harbour: both ends near shore
    # and the other way round: every >= 6 h silence in the raw track is an event
    expect = {(m, a[0]) for m, pts in track.items() for a, b in itertools.pairwise(pts)
              if b[0] - a[0] >= timedelta(hours=6)}
    assert {(e["subject"], e["t_start"]) for e in ev} == expect


def test_engines_agree_on_real_data(virginia: Store) -> None:
    _, plat, plon = ports.arrays()
    p = {k: float(v) for k, v in port_visits.DEFAULTS.items()}
    keys = ("id", "t_first", "t_last", "n_pos", "entry_anchor", "has_entry", "exit_t", "stop_t", "n_stopped",
            "n_gaps", "stopped_s", "level")
    # the WPI layer (k-d tree in the NumPy engine) and a one-site layer (box test + haversine)
    for la, lo in ((plat, plon), (np.array([NORFOLK[0]]), np.array([NORFOLK[1]]))):
        res = []
        for eng in ("numpy", "sql"):
            ctx = AnalysisContext(virginia, {}, settings={"sea": {"engine": eng}})
            v = port_visits.visits(ctx, la, lo, p)
            res.append(sorted(tuple(round(r[k], 3) if isinstance(r[k], float) else r[k] for k in keys) for r in v))
        assert res[0] == res[1] and len(res[0]) > 20
    gap_ids = [sorted(e["event_id"] for e in rows(gaps.ais_gaps(
        AnalysisContext(virginia, {}, settings={"sea": {"engine": eng}})))) for eng in ("numpy", "sql")]
    assert gap_ids[0] == gap_ids[1] and gap_ids[0]


def test_loitering_and_encounters_us_coast(us_coast: Store) -> None:
    ctx = AnalysisContext(us_coast, {})
    lo = rows(loitering.loitering(ctx))
    en = rows(encounters.encounters(ctx))
    print(f"\nUS coast: {len(lo)} loitering, {len(en)} encounter events (one per vessel of a pair)")
    for e in (lo[:2] + en[:2]):
        print("  ", e["summary"])
    for e in lo:
        assert e["details"]["min_shore_nm"] >= 20 and e["details"]["mean_kt"] < 2
        assert e["t_end"] - e["t_start"] >= timedelta(hours=4)
    for e in en:
        assert e["details"]["min_dist_m"] <= 500 and e["details"]["duration_h"] >= 2
        assert e["details"]["nearest_port_km"] >= 10
    pairs = Counter(frozenset((e["subject"], e["details"]["other"])) for e in en)
    assert all(n % 2 == 0 for n in pairs.values())  # each encounter reported from both sides
    assert np.all([e["t_start"] < e["t_end"] for e in lo + en])


def test_reported_speeds_marinecadastre_csv() -> None:
    """The MarineCadastre hour of New York harbour has SOG: stops come from the reported speed."""
    s = Store(":memory:")
    ingest_paths(s, "ais", [str(tracktable("python_example_data/NYHarbor_2020_06_30_first_hour.csv"))],
                 "marinecadastre")
    ctx = AnalysisContext(s, {}, settings={"sea": {"port_visit": {"min_confidence": 1}}})
    ev = rows(port_visits.port_visits(ctx))
    levels = Counter(e["details"]["confidence_level"] for e in ev)
    print(f"\nNY harbour first hour (MarineCadastre CSV): {len(ev)} port visits, levels {dict(levels)}")
    assert len(ev) > 100
    for e in ev:
        upto = "<" if e["details"]["departure_observed"] else "<="  # t_end is then the first row outside
        sog = [r[0] for r in s.sql(f"SELECT speed_kt FROM positions WHERE id = ? AND t_utc >= ? AND t_utc {upto} ?",
                                   [e["subject"], e["t_start"], e["t_end"]])]
        assert bool(e["details"]["first_stop"]) == (min(sog) < 0.2)
    s.close()


def test_intentional_flag_is_consistent_on_real_gaps(virginia: Store) -> None:
    ev = rows(gaps.ais_gaps(AnalysisContext(virginia, {})))
    flagged = [e for e in ev if e["details"]["intentional"]]
    print(f"\nVirginia Beach: {len(ev)} ais-gap events, {len(flagged)} meeting GFW's intentional criteria:")
    for e in flagged:
        print("  ", e["summary"])
    for e in ev:
        d = e["details"]
        ok = (d["gap_h"] >= 12 and d["before"]["shore_nm"] > 50 and d["after"]["shore_nm"] > 50
              and d["positions_before"] >= 14)
        assert d["intentional"] == ok and (not d["not_intentional_because"]) == ok
    # 367863000 left Naval Station Norfolk on 4 June, fell silent 75 NM offshore for 17.9 h
    assert [e["subject"] for e in flagged] == ["367863000"]


def test_departures_from_new_york_harbour(ny_week: Store) -> None:
    """Bayonne (WPI:7790, where the USCG 366999xxx cutters berth in this week) and the Battery."""
    from sitewatch.sites import from_port

    sites = {"bayonne": from_port("bayonne", "WPI:7790"), "nyc": from_port("nyc", "WPI:7640")}
    ev = rows(departures.departures(AnalysisContext(ny_week, sites)))
    by_site = Counter(e["site"] for e in ev)
    gov = government(ny_week)
    gov_dep = [e for e in ev if e["subject"] in gov]
    print(f"\nNY harbour week: departures {dict(by_site)}; by government vessels {len(gov_dep)}, e.g.")
    for e in gov_dep[:3]:
        print("  ", e["summary"])
    assert by_site["bayonne"] >= 10 and by_site["nyc"] >= 100
    assert any(e["site"] == "bayonne" for e in gov_dep)
    for e in ev:
        d, site = e["details"], sites[e["site"]]
        assert site.contains(d["last_inside"]["lat"], d["last_inside"]["lon"])
        assert not site.contains(d["first_outside"]["lat"], d["first_outside"]["lon"])
