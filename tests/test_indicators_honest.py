"""Indicators that say only what their evidence shows: detections and analyst counts kept
apart, zone series observed only by zone counts, count-model scores for quiet baselines,
ongoing loitering counted every day, and sentences whose numbers are recomputable from
their own footnotes (:func:`sitewatch.fusion.indicators.check_series`)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pytest

from sitewatch.fusion import evidence as E
from sitewatch.fusion import indicators as I
from sitewatch.store import evidence as EVD
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths
from test_fusion_scenario import AS_OF, Scenario, at, baseline, hmeimim, withdrawal


def _series(store: Store, as_of: datetime | None) -> tuple[dict[str, I.Series], dict[str, Any]]:
    site = hmeimim()
    E.refresh(store, [site])
    rows = {r["evidence_id"]: r for r in EVD.list_evidence(store, site.name)}
    return I.by_name(I.compute(store, site, as_of)), rows


def _observations(tmp_path: Path, store: Store, lines: list[str]) -> None:
    f = tmp_path / "obs.csv"
    f.write_text("date,site,text,count,class,zone,source,url\n" + "".join(x + "\n" for x in lines))
    ingest_paths(store, "observations", [f])


def _all_ok(series: dict[str, I.Series], rows: dict[str, Any]) -> None:
    problems = [p for s in series.values() for p in I.check_series(s, rows)]
    assert problems == []


# -- 151 vehicles: the split adds up to the total, the analyst's 100 stays apart -----------

def test_vehicle_split_adds_to_the_scene_total_and_analyst_count_stays_apart(tmp_path: Path) -> None:
    store = Store()
    sc = Scenario()
    for d, n in ((date(2024, 12, 1), 21), (date(2024, 12, 5), 22), (date(2024, 12, 9), 20)):
        sc.scene(d, {("large-vehicle", "north-park"): n})
    sc.scene(date(2024, 12, 15), {("large-vehicle", "north-park"): 53, ("small-vehicle", None): 26})
    big = sc.scene(date(2024, 12, 18), {("large-vehicle", "north-park"): 64, ("large-vehicle", None): 50,
                                        ("small-vehicle", "north-park"): 28, ("small-vehicle", None): 9})
    # a second, smaller scene the same day (another provider): not added, not cited
    sc.scene(date(2024, 12, 18), {("large-vehicle", "north-park"): 30}, provider="Planet")
    sc.write(store)
    _observations(tmp_path, store, [
        "2024-12-01,hmeimim,25 trucks in the parks,25,large-vehicle,,Analyst,",
        "2024-12-05,hmeimim,24 trucks in the parks,24,large-vehicle,,Analyst,",
        "2024-12-09,hmeimim,26 trucks in the parks,26,large-vehicle,,Analyst,",
        "2024-12-18,hmeimim,more than 100 military vehicles have arrived,100,large-vehicle,,Analyst,",
        "2024-12-18,hmeimim,a few more trucks,12,large-vehicle,north-park,Analyst,",
    ])
    s, rows = _series(store, datetime(2024, 12, 19, tzinfo=UTC))
    veh = s["vehicles"]
    assert veh.value == 151 and veh.value_day == date(2024, 12, 18)
    assert (veh.window_from, veh.window_to) == (date(2024, 12, 18), date(2024, 12, 18))
    assert veh.breakdown == {"large-vehicle": 114.0, "small-vehicle": 37.0}
    assert sum(veh.breakdown.values()) == veh.value
    assert veh.sentence.startswith("vehicles (imagery): 151 on 2024-12-18")
    assert "(by type: 114 large-vehicle, 37 small-vehicle)" in veh.sentence and "previous" not in veh.sentence
    cited = [rows[i] for i in veh.evidence]
    assert {r["kind"] for r in cited} == {"imagery.count"} and {r["ref"]["scene_id"] for r in cited} == {big}
    assert sum(r["value"] for r in cited) == 151
    # the analysts' largest report of the day is its own indicator, cited to that one row
    rep = s["vehicles_reported"]
    assert rep.sensor == "analyst" and rep.value == 100 and len(rep.evidence) == 1
    assert rows[rep.evidence[0]]["kind"] == "analyst.observation" and rows[rep.evidence[0]]["value"] == 100
    assert rep.baseline_median == 25 and rep.baseline_n == 3
    assert not set(rep.evidence) & set(veh.evidence)
    _all_ok(s, rows)


# -- zone series: only scenes with zone counts observe a zone ----------------------------

def test_zone_series_not_observed_on_analyst_days_or_unzoned_scenes(tmp_path: Path) -> None:
    store = Store()
    sc = Scenario()
    for d, n in ((date(2024, 12, 1), 20), (date(2024, 12, 5), 22), (date(2024, 12, 9), 21),
                 (date(2024, 12, 13), 40)):
        sc.scene(d, {("large-vehicle", "north-park"): n})
    sc.write(store)
    _observations(tmp_path, store, [
        "2024-12-03,hmeimim,trucks in the park,24,large-vehicle,north-park,Analyst,",
        "2024-12-07,hmeimim,dozens of trucks,,large-vehicle,north-park,Analyst,",
        "2024-12-11,hmeimim,trucks in the park,23,large-vehicle,north-park,Analyst,",
    ])
    site = hmeimim()
    E.refresh(store, [site])
    rows = EVD.list_evidence(store, site.name)
    # a scene seen without zone-level counts (an older site definition): the site total only
    t = at(date(2024, 12, 12), 8)
    rows.append({**next(r for r in rows if r["kind"] == "imagery.count" and r["value"] == 21),
                 "evidence_id": "fx:unzoned", "t_start": t, "t_end": t, "value": 30.0,
                 "ref": {"scene_id": "unzoned", "zone": None, "class": "large-vehicle", "resolvable": True}})
    s = I.by_name(I.compute_from_rows(rows, [], site, datetime(2024, 12, 14, tzinfo=UTC)))
    zone = {d.day: d for d in s["vehicles@north-park"].days}
    for d in (date(2024, 12, 3), date(2024, 12, 7), date(2024, 12, 11), date(2024, 12, 12)):
        assert zone[d].status == "not observed" and zone[d].value is None
    assert [d.value for d in s["vehicles@north-park"].days if d.value is not None] == [20, 22, 21, 40]
    last = s["vehicles@north-park"]
    assert last.value == 40 and last.baseline_median == 21 and last.baseline_n == 3
    # a baseline of 20-22 a scene (MAD 1, less than a count's own noise): a count model,
    # P(X >= 40 | Poisson 21) = 1 - sum of the first 40 terms
    p = 1.0 - sum(math.exp(-21.0) * 21.0 ** k / math.factorial(k) for k in range(40))
    assert last.score_method == "poisson" and last.score == pytest.approx(NormalDist().inv_cdf(1.0 - p), abs=1e-4)
    assert last.score == pytest.approx(3.63, abs=0.01)
    total = {d.day: d for d in s["vehicles"].days}
    assert total[date(2024, 12, 12)].value == 30 and total[date(2024, 12, 3)].status == "not observed"
    rep = {d.day: d.value for d in s["vehicles_reported"].days if d.value is not None}
    assert rep == {date(2024, 12, 3): 24, date(2024, 12, 11): 23}  # "dozens" has no count
    _all_ok(s, {r["evidence_id"]: r for r in rows})


# -- the count model ----------------------------------------------------------------------

def test_count_score_by_hand() -> None:
    # baseline 0.1 a day, 3 events in 3 days: P(X >= 3 | λ = 0.3) = 1 - e^-0.3 (1 + 0.3 + 0.045)
    p = 1.0 - math.exp(-0.3) * (1.0 + 0.3 + 0.3 ** 2 / 2.0)
    assert p == pytest.approx(0.0035995, abs=1e-7)
    z, method = I.count_score(3, 0.1, 0.05, k=3)
    assert method == "poisson" and z == pytest.approx(NormalDist().inv_cdf(1.0 - p), abs=1e-6)
    assert z == pytest.approx(2.6875, abs=1e-4)
    # the lower tail: 0 against 3 a day, P(X <= 0) = e^-3
    z, _ = I.count_score(0, 3.0)
    assert z == pytest.approx(NormalDist().inv_cdf(math.exp(-3.0)), abs=1e-6) and z < 0
    assert I.count_score(0, 0.1, k=3)[0] == 0.0 and I.count_score(1, 1.0)[0] == 0.0  # usual: 0
    # overdispersed baseline: negative binomial by moments, less surprising than Poisson
    nb, method = I.count_score(6, 0.5, 2.0, k=3)
    assert method == "negbin" and 0 < nb < I.count_score(6, 0.5, None, k=3)[0]
    # never infinite, even far into the tail
    for x, rate in ((10 ** 5, 1e-9), (5000, 2.0), (0, 10 ** 4)):
        z, _ = I.count_score(x, rate)
        assert math.isfinite(z) and abs(z) > 30


def test_zero_baseline_count_of_three_gets_a_finite_poisson_tail_score() -> None:
    d0 = date(2024, 11, 1)

    def history(baseline_days: tuple[int, ...]) -> dict[str, I.Series]:
        store = Store()
        sc = Scenario()
        for i in range(33):
            sc.cover(d0 + timedelta(days=i))
        for i in (*baseline_days, 30, 31, 32):
            sc.event("arrival", d0 + timedelta(days=i), "151a01", typecode="A124")
        sc.write(store)
        return _series(store, datetime(2024, 12, 4, tzinfo=UTC))[0]

    # 3 arrivals in 30 baseline days = 0.1 a day (variance 0.093 < mean: Poisson), then 3 in 3 days
    arr = history((5, 15, 25))["heavy_arrivals"]
    assert arr.value == 3 and arr.baseline_mean == pytest.approx(0.1) and arr.baseline_n == 30
    assert arr.score_method == "poisson" and arr.score == pytest.approx(2.6875, abs=1e-3)
    assert arr.sentence == ("heavy-lift arrivals: 3 from 2024-12-01 to 2024-12-03 (3-day window of observed days) "
                            "(baseline: 90-day median 0 a day, mean 0.10 over 30 earlier observed days; "
                            "score +2.7, Poisson tail)")
    # an all-zero baseline: half an event over its 30 days, so finite: P(X >= 3 | λ = 0.05)
    arr = history(())["heavy_arrivals"]
    lam = 3 * 0.5 / 30
    p = 1.0 - math.exp(-lam) * (1.0 + lam + lam ** 2 / 2.0)
    assert arr.baseline_median == 0 and arr.score == pytest.approx(NormalDist().inv_cdf(1.0 - p), abs=1e-3)
    assert arr.score is not None and 4.0 < arr.score < 4.2


# -- a rise kept up for a week reads on its 7-day total; a burst that is over does not ------

def _arrivals(days_with: dict[int, int], n_days: int = 75) -> tuple[I.Series, dict[str, Any]]:
    d0 = date(2024, 9, 21)
    store = Store()
    sc = Scenario()
    for i in range(n_days):
        sc.cover(d0 + timedelta(days=i))
    for i, k in days_with.items():
        for j in range(k):
            sc.event("arrival", d0 + timedelta(days=i), f"151a{j:02d}", typecode="A124")
    sc.write(store)
    series, rows = _series(store, datetime.combine(d0 + timedelta(days=n_days), datetime.min.time(), UTC))
    return series["heavy_arrivals"], rows


def test_sustained_rise_reads_on_the_seven_day_total_and_a_burst_that_is_over_does_not() -> None:
    base = {i: 1 for i in range(0, 66, 11)}  # one arrival every 11 days (0.09 a day)
    # one a day for the last week: no 3-day total is far out (3 vs 0.27: +2.4), the week's 7 is
    trickle, rows = _arrivals({**base, **{i: 1 for i in range(68, 75)}})
    assert trickle.value == 7 and (trickle.window_from, trickle.window_to) == (date(2024, 11, 28), date(2024, 12, 4))
    assert len(trickle.evidence) == 7 and "7-day window of observed days" in trickle.sentence
    assert trickle.score is not None and trickle.score > I.SUSTAINED_SCORE
    # the same 7 arrivals as a burst 5-7 days ago, nothing since: the current claim stays the
    # last 3 days (the rise is over); the burst is the recent peak, on the window that shows it best
    burst, rows_b = _arrivals({**base, 68: 3, 69: 2, 70: 2})
    assert burst.value == 0 and (burst.window_from, burst.window_to) == (date(2024, 12, 2), date(2024, 12, 4))
    assert burst.peak_score is not None and burst.peak_score > 4 and burst.peak_value == 7
    assert burst.peak_basis == "3-day total"  # the sharper window, where it reaches the threshold itself
    assert I.check_series(trickle, rows) == [] and I.check_series(burst, rows_b) == []


def test_military_flying_counts_airframes_a_day_not_the_two_movements_of_a_sortie() -> None:
    """A fighter's sortie is a departure and an arrival: one airframe flying, not two events
    (counted twice, the series is always even and twice as spread as any count model says)."""
    d0 = date(2024, 11, 20)
    store = Store()
    sc = Scenario()
    for i in range(24):
        sc.cover(d0 + timedelta(days=i))
    for i in range(0, 24, 2):  # a sortie every other day, out and back
        sc.event("departure", d0 + timedelta(days=i), "151f01", hour=9, typecode="SU27", military=True)
        sc.event("arrival", d0 + timedelta(days=i), "151f01", hour=11, typecode="SU27", military=True)
    day = d0 + timedelta(days=20)  # that day two more airframes fly, one of them twice
    for icao, hours in (("151f02", (8, 10, 14, 16)), ("151f03", (12, 13))):
        for k, h in enumerate(hours):
            sc.event("departure" if k % 2 == 0 else "arrival", day, icao, hour=h, typecode="SU30", military=True)
    sc.write(store)
    series, rows = _series(store, datetime.combine(d0 + timedelta(days=24), datetime.min.time(), UTC))
    mil = series["military_other"]
    by_day = {x.day: x.value for x in mil.days}
    assert by_day[d0] == 1 and by_day[d0 + timedelta(days=1)] == 0 and by_day[day] == 3
    cited = [rows[e] for x in mil.days if x.day == day for e in x.evidence]
    assert sorted(str(r["subject"]) for r in cited) == ["151f01", "151f02", "151f03"]  # each one's first movement
    assert I.check_series(mil, rows) == []


# -- loitering: ongoing episodes count on every day they span ------------------------------

def test_loitering_counts_ongoing_episodes_on_every_day() -> None:
    store = Store()
    sc = Scenario()
    d = date(2024, 11, 1)
    while d <= date(2024, 12, 19):
        sc.cover(d, "ais")
        d += timedelta(days=1)
    end = datetime(2024, 12, 19, 23, 58, tzinfo=UTC)
    for k, (day, hour) in enumerate(((9, 9), (9, 18), (10, 7), (10, 16))):
        sc.event("loitering", date(2024, 12, day), f"27311025{k}", "vessel", hour=hour, t_end=end)
    sc.write(store)
    s, rows = _series(store, datetime(2024, 12, 20, tzinfo=UTC))
    lo = s["loitering"]
    assert lo.aggregate == "level" and lo.kinds == ["sea.loitering"]
    by_day = {x.day: x for x in lo.days}
    assert by_day[date(2024, 12, 8)].value == 0 and by_day[date(2024, 12, 9)].value == 2
    assert all(by_day[date(2024, 12, n)].value == 4 for n in range(10, 20))
    assert lo.value == 4 and lo.value_day == date(2024, 12, 19) == lo.window_from == lo.window_to
    assert sorted(rows[i]["subject"] for i in lo.evidence) == [f"27311025{k}" for k in range(4)]
    assert lo.sentence.startswith("vessels loitering offshore: 4 on 2024-12-19")
    # a zero day rests on the AIS coverage of that day
    assert {rows[i]["kind"] for i in by_day[date(2024, 12, 8)].evidence} == {"sea.coverage"}
    # the first day with vessels holding offshore, against a month of none, is the peak
    assert lo.peak_window_to == date(2024, 12, 9) and lo.peak_value == 2 and (lo.peak_score or 0) > 3
    assert lo.shift_day == date(2024, 12, 9) and lo.shift_after == 4
    _all_ok(s, rows)


# -- footnotes ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, I.Series], dict[str, Any]]:
    store = Store()
    sc = Scenario()
    baseline(sc, quay_until=date(2024, 12, 11))
    withdrawal(sc)
    sc.event("loitering", date(2024, 12, 10), "273110250", "vessel", t_end=at(date(2024, 12, 13), 20))
    sc.scene(date(2024, 12, 13), {("plane", "apron"): 4, ("large-vehicle", "north-park"): 90,
                                  ("small-vehicle", None): 7})
    sc.write(store)
    _observations(tmp_path_factory.mktemp("obs"), store, [
        "2024-12-12,hmeimim,more than 100 vehicles,100,large-vehicle,,Analyst,",
        "2024-12-13,hmeimim,2 × A124 on the apron,2,A124,apron,Analyst,",
    ])
    return _series(store, AS_OF)


def test_footnotes_back_every_sentence_of_the_scenario(scenario: tuple[dict[str, I.Series], dict[str, Any]]
                                                      ) -> None:
    s, rows = scenario
    _all_ok(s, rows)
    dep = s["heavy_departures"]
    cited = [rows[i] for i in dep.evidence]
    assert len(cited) == dep.value == 6 and {r["kind"] for r in cited} == {"air.departure"}
    assert all(dep.window_from <= r["t_start"].date() <= dep.window_to for r in cited)  # type: ignore[operator]
    peak = [rows[i] for i in dep.peak_evidence]
    assert len(peak) == dep.peak_value
    assert dep.peak_sentence.startswith(f"heavy-lift departures: {dep.peak_value:.0f} from {dep.peak_window_from} to")
    assert "; peak" not in dep.sentence and "level shift" not in dep.sentence
    veh = s["vehicles"]
    assert veh.value == 97 and veh.breakdown == {"large-vehicle": 90.0, "small-vehicle": 7.0}


def test_checker_fails_on_broken_series(scenario: tuple[dict[str, I.Series], dict[str, Any]]) -> None:
    s, rows = scenario
    veh, dep, quay = s["vehicles"], s["heavy_departures"], s["ships_at_quay"]
    other_day = next(r["evidence_id"] for r in rows.values()
                     if r["kind"] == "imagery.count" and r["t_start"].date() == date(2024, 12, 12))
    analyst = next(r["evidence_id"] for r in rows.values() if r["kind"] == "analyst.observation")

    def problems(x: I.Series) -> str:
        return "\n".join(I.check_series(x, rows))

    # the old faults: a row of another day, an analyst row in an imagery split, "(previous …)"
    assert "outside" in problems(replace(veh, evidence=[*veh.evidence, other_day]))
    bad = replace(veh, evidence=[*veh.evidence, analyst],
                  breakdown={**veh.breakdown, "large-vehicle": veh.breakdown["large-vehicle"] + 100})
    assert "not one of" in problems(bad) and "does not add to" in problems(bad)
    previous = problems(replace(veh, sentence=veh.sentence.replace(" (baseline:", " (previous 112 on 2024-12-12) (baseline:")))
    assert "outside its window" in previous and "states 112, which its rows do not give" in previous
    # a total that is not its rows', a peak without its rows, a sentence naming another window
    assert "cites 5 rows" in problems(replace(dep, evidence=dep.evidence[:5]))
    assert "no evidence" in problems(replace(dep, peak_evidence=[]))
    assert "outside its window" in problems(replace(dep, sentence=dep.sentence + "; peak +6.6 on 2024-12-01"))
    assert "; peak" in problems(replace(dep, sentence=dep.sentence + "; peak +6.6"))
    # a level value over two days, and a shift median the cited rows do not give
    assert quay.window_to is not None
    assert "one day" in problems(replace(quay, window_from=quay.window_to - timedelta(days=1)))
    assert "median" in problems(replace(quay, shift_after=3.0))
    assert problems(veh) == problems(dep) == problems(quay) == ""


# -- the demo -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import contextlib
    import io

    from sitewatch.cli import main

    out = tmp_path_factory.mktemp("demo") / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["-q", "demo", "--out", str(out), "--scale", "0.2"])
    assert code == 0
    return out / "workspace"


@pytest.mark.slow
def test_footnotes_back_every_series_of_the_demo(demo: Path) -> None:
    from sitewatch.workspace import Workspace

    with Workspace.open(demo) as ws:
        for name, site in ws.sites.items():
            E.refresh(ws.store, [site])
            rows = {r["evidence_id"]: r for r in EVD.list_evidence(ws.store, name)}
            series = I.by_name(I.compute(ws.store, site))
            _all_ok(series, rows)
            for x in series.values():
                assert x.score is None or math.isfinite(x.score)
                if x.breakdown:
                    assert sum(x.breakdown.values()) == x.value
            if name == "hmeimim":
                # the warships holding offshore since 9-10 Dec are still there on the last AIS day
                assert series["loitering"].value == 4
                assert all(rows[i]["kind"] == "imagery.count" for i in series["vehicles"].evidence)
