"""Daily indicators: not observed vs zero, baselines, scores, change points, sensor limits."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from statistics import NormalDist

import pytest

from sitewatch.fusion import evidence as E
from sitewatch.fusion import indicators as I
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths
from test_fusion_scenario import AS_OF, Scenario, build, hmeimim


def series(store: Store, as_of: object = AS_OF) -> dict[str, I.Series]:
    site = hmeimim()
    E.refresh(store, [site])
    return I.by_name(I.compute(store, site, as_of))  # type: ignore[arg-type]


def test_days_without_observation_are_not_zero() -> None:
    store = Store()
    sc = Scenario()
    sc.cover(date(2024, 12, 1))  # ADS-B saw the area on the 1st and 3rd, not the 2nd
    sc.cover(date(2024, 12, 3))
    sc.event("arrival", date(2024, 12, 3), "151a01", typecode="A124")
    sc.scene(date(2024, 12, 1), {("large-vehicle", "north-park"): 4})
    sc.write(store)
    s = series(store, None)
    days = {d.day: d for d in s["heavy_arrivals"].days}
    assert days[date(2024, 12, 1)].value == 0 and days[date(2024, 12, 1)].status == "observed"
    assert days[date(2024, 12, 2)].value is None and days[date(2024, 12, 2)].status == "not observed"
    assert days[date(2024, 12, 3)].value == 1 and days[date(2024, 12, 3)].evidence
    veh = {d.day: d for d in s["vehicles@north-park"].days}
    assert veh[date(2024, 12, 1)].value == 4
    assert veh[date(2024, 12, 3)].value is None and veh[date(2024, 12, 3)].status == "not observed"
    # AIS never covered the site: the whole series is "not observed", not a row of zeros
    ais = s["vessel_departures"]
    assert ais.status == "not observed" and all(d.value is None for d in ais.days)
    assert "not observed" in ais.sentence


def test_coarse_imagery_is_not_resolvable_for_vehicles_but_counts_aircraft() -> None:
    store = Store()
    sc = Scenario()
    sc.scene(date(2024, 12, 5), {("plane", "apron"): 3}, gsd_m=3.0, provider="PlanetScope")
    sc.write(store)
    s = series(store, None)
    veh = s["vehicles"]
    assert veh.status == "not observed" and veh.days[-1].status == "not resolvable"
    assert veh.limits and "GSD too coarse" in veh.limits[0] and "not countable" in veh.sentence
    assert s["aircraft_on_ground"].value == 3


def test_baseline_score_and_sentence_on_the_known_pattern() -> None:
    store = Store()
    build(store, "withdrawal")
    s = series(store)
    dep = s["heavy_departures"]
    assert dep.value == 6 and dep.baseline_median == 0 and dep.baseline_n >= 60
    assert (dep.window_from, dep.window_to) == (date(2024, 12, 11), date(2024, 12, 13))
    # a quiet baseline (a departure every 20 days) against six in three days: a count-model tail
    assert dep.score is not None and dep.score > 3 and dep.score_method in ("poisson", "negbin")
    assert dep.sentence.startswith("heavy-lift departures: 6 from 2024-12-11 to 2024-12-13 "
                                   "(3-day window of observed days) (baseline: 90-day median 0 a day, mean 0.")
    veh = s["vehicles@north-park"]
    assert veh.value == 112 and veh.baseline_median == pytest.approx(21, abs=1) and (veh.score or 0) > 10
    assert veh.baseline_n == 10  # the ten weekly scenes: nothing else observes the zone
    quay = s["ships_at_quay"]
    # the quay emptied on the 12th; with segments of at least 3 observations and only two
    # empty days so far, the shift is placed at the last possible split (the 11th)
    assert quay.value == 0 and quay.change_points[-1] == {"day": date(2024, 12, 11), "before_median": 3.0,
                                                         "after_median": 0.0, "t": -3.92}
    # the shift has its own sentence, cited to the days from the shift on; it is not a trough
    assert (quay.shift_day, quay.shift_t, quay.shift_before, quay.shift_after) == (date(2024, 12, 11), -3.92, 3.0, 0.0)
    assert quay.shift_sentence.startswith("ships in port (AIS): level shift on 2024-12-11: median 0 over the "
                                          "observed days from 2024-12-11 to 2024-12-13 (baseline: median 3 ")
    # the trough is the first empty day: 0 against a Poisson of 3 a day, P(X <= 0) = e^-3
    assert quay.trough_basis == "value" and quay.trough_day == date(2024, 12, 12)
    assert quay.trough_score == pytest.approx(NormalDist().inv_cdf(math.exp(-3)), abs=0.01)
    assert "level shift" not in quay.sentence and "low" not in quay.sentence


def test_robust_statistics_by_hand() -> None:
    assert I.baseline([0, 0, 1, 0, 10]) == (0.0, 0.0)
    assert I.robust_scale(0.0, 0.0) == 1.0  # Poisson floor for a quiet series
    assert I.robust_scale(16.0, 1.0) == 4.0
    assert I.change_points([0, 0, 0, 0, 0, 0, 5, 5, 5, 5]) == [6]
    assert I.change_points([0, 0, 0, 9, 0, 0, 0, 0]) == []  # a spike is not a level shift


def test_aircraft_on_the_ground_by_type_from_imagery_and_analysts_apart(tmp_path: Path) -> None:
    store = Store()
    sc = Scenario()
    sid = sc.scene(date(2024, 12, 6), {("plane", "apron"): 7})
    for k, det in enumerate(sc.detections):
        if det["scene_id"] == sid and k < 2:
            det["type_candidates"] = json.dumps([{"type": "A124", "name": "An-124", "likelihood": 0.8}])
    sc.write(store)
    obs = tmp_path / "obs.csv"
    obs.write_text("2024-12-13, hmeimim, 2 × A124 on apron, Maxar, https://example.org/x\n")
    ingest_paths(store, "observations", [obs])
    all_series = series(store, None)
    s = all_series["aircraft_on_ground"]
    days = {d.day: d for d in s.days}
    # detections only: the analyst's report is not an imagery observation of the 13th
    assert days[date(2024, 12, 6)].value == 7 and days[date(2024, 12, 13)].status == "not observed"
    assert days[date(2024, 12, 9)].status == "not observed"
    assert s.value == 7 and s.value_day == date(2024, 12, 6) and s.breakdown == {"plane": 5.0, "A124": 2.0}
    assert "by type: 5 plane, 2 A124" in s.sentence
    rep = all_series["aircraft_reported"]
    assert rep.sensor == "analyst" and rep.value == 2 and rep.value_day == date(2024, 12, 13)
    assert len(rep.evidence) == 1 and rep.breakdown == {"A124": 2.0}
    assert not set(rep.evidence) & set(s.evidence)


def test_quiet_days_are_footnoted_to_the_coverage_that_saw_them() -> None:
    store = Store()
    build(store, "withdrawal")
    s = series(store)
    gaps = s["adsb_gaps"]
    assert gaps.value == 0 and gaps.status == "observed" and len(gaps.evidence) == 3
    from sitewatch.store import evidence as EVD

    rows = EVD.list_evidence(store, "hmeimim", ids=gaps.evidence)
    assert {r["kind"] for r in rows} == {"air.coverage"} and all(r["value"] >= 1 for r in rows)
    assert [str(r["t_start"].date()) for r in rows] == ["2024-12-11", "2024-12-12", "2024-12-13"]
    assert "positions of" in rows[0]["text"] and rows[0]["ref"]["day"] == "2024-12-11"


def test_partial_counts_never_sit_beside_full_counts() -> None:
    """3 m scenes count only aircraft ≥ 36 m: alone they make a consistent series; beside
    0.5 m scenes that count every aircraft they would read as a drop, so those days are
    "not resolvable" instead."""
    store = Store()
    sc = Scenario()
    for d in range(1, 4):
        sc.scene(date(2024, 12, d), {("plane", "apron"): 3}, gsd_m=3.0, provider="PlanetScope")
    sc.write(store)
    alone = series(store, None)["aircraft_on_ground"]
    assert [x.value for x in alone.days if x.value is not None] == [3.0, 3.0, 3.0]
    sc2 = Scenario()
    sc2.scene(date(2024, 12, 4), {("plane", "apron"): 12}, gsd_m=0.5)
    sc2.write(store)
    mixed = series(store, None)["aircraft_on_ground"]
    by_day = {x.day: x for x in mixed.days}
    assert by_day[date(2024, 12, 4)].value == 12.0
    assert all(by_day[date(2024, 12, d)].status == "not resolvable" for d in range(1, 4))
    assert mixed.limits and "too coarse to count them all" in mixed.limits[0]
