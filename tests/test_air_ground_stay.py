"""Seen ground stays are not dark: a track that stops just after touchdown and resumes at
take-off (receivers that do not hear the ground) yields an arrival and a departure, never a
dark gap nor a "possibly landed, lost 0 km away" dark visit; a genuine transponder-off
approach (the An-124 of the demo) still yields both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from sitewatch import geo
from sitewatch import sites as S
from sitewatch.analytics import base
from sitewatch.analytics.air import _pipeline
from sitewatch.analytics.air import dark_visit as DV
from sitewatch.analytics.air import gaps as G
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams
from sitewatch.store import positions_air as AIR
from sitewatch.store.db import Store

T0 = datetime(2024, 12, 11, 10, 0, tzinfo=UTC)
SITE = S.from_airport("hmeimim", "OSLK")
ARP = (SITE.lat, SITE.lon)
HOUR = 3600.0


def _pt(bearing: float, dist_m: float) -> tuple[float, float]:
    lat, lon = geo.destination(SITE.lat, SITE.lon, bearing, dist_m)
    return float(lat), float(lon)


def _seg(ident: str, t0: float, t1: float, a: tuple[float, float], b: tuple[float, float], alt0: float,
         alt1: float, onground: bool | None, step: float = 10.0) -> pa.Table:
    """Reports every ``step`` s flying (or taxiing) straight from ``a`` to ``b`` at constant speed."""
    t = np.arange(t0, t1 + 1e-9, step)
    f = (t - t0) / max(t1 - t0, 1e-9)
    n = t.size
    dist = float(geo.haversine_m(a[0], a[1], b[0], b[1]))
    return pa.table({
        "t_utc": pa.array([T0 + timedelta(seconds=float(s)) for s in t], pa.timestamp("us", tz="UTC")),
        "source": ["adsb"] * n, "id": [ident] * n,
        "lat": a[0] + f * (b[0] - a[0]), "lon": a[1] + f * (b[1] - a[1]), "alt_ft": alt0 + f * (alt1 - alt0),
        "speed_kt": np.full(n, dist / max(t1 - t0, 1e-9) / geo.KT_MS),
        "track_deg": np.full(n, float(geo.bearing_deg(a[0], a[1], b[0], b[1]))),
        "onground": pa.array([onground] * n, pa.bool_()),
    })


STAND = _pt(266.0, 300.0)  # on the apron, 300 m W of the reference point
SOUTH_END = _pt(176.0, 1500.0)  # runway 176°/356°


def _landing(ident: str, t: float, flags: bool) -> list[pa.Table]:
    """Final approach from 20 km S (4,000 ft) to touchdown, roll out and taxi to the stand: ends at t + 600."""
    ground = True if flags else None
    air = False if flags else None
    return [_seg(ident, t, t + 300, _pt(176.0, 20_000.0), SOUTH_END, 4000, 160, air),
            _seg(ident, t + 310, t + 600, SOUTH_END, STAND, 150, 150, ground)]


def _take_off(ident: str, t: float, flags: bool) -> list[pa.Table]:
    """Taxi from the stand to the runway and climb out northwards: starts at t."""
    ground = True if flags else None
    air = False if flags else None
    return [_seg(ident, t, t + 300, STAND, SOUTH_END, 150, 150, ground),
            _seg(ident, t + 310, t + 610, SOUTH_END, _pt(356.0, 20_000.0), 150, 5000, air)]


def _rotation(ident: str, t: float, ground_s: float, flags: bool = True) -> list[pa.Table]:
    """A routine Il-76 rotation: landing, unheard on the ground for ``ground_s``, take-off."""
    return _landing(ident, t, flags) + _take_off(ident, t + 600 + ground_s, flags)


def _an124(ident: str, t: float) -> list[pa.Table]:
    """The demo's real finding: descending towards the site, lost 43 km W at 11,225 ft, six
    hours unheard, reacquired north of the site climbing through 16,225 ft."""
    lost = _pt(270.0, 43_000.0)
    back = _pt(20.0, 60_000.0)
    return [_seg(ident, t, t + 900, _pt(270.0, 250_000.0), _pt(270.0, 120_000.0), 30_000, 20_000, False),
            _seg(ident, t + 910, t + 1500, _pt(270.0, 120_000.0), lost, 20_000, 11_225, False),
            _seg(ident, t + 1500 + 6 * HOUR, t + 2100 + 6 * HOUR, back, _pt(20.0, 130_000.0), 16_225, 30_000,
                 False)]


def _airfields() -> Airfields:
    decoy = _pt(90.0, 150_000.0)
    return Airfields(["OSLK", "DECOY"], [SITE.lat, decoy[0]], [SITE.lon, decoy[1]], [157.0, 0.0], [SITE])


def _run(*tables: pa.Table, af: Airfields | None = None) -> _pipeline.Result:
    st = Store(":memory:")
    for t in tables:
        st.insert("positions", t)
    rel = AIR.store_relation("adsb")
    return _pipeline.run(AIR.track_partitions(st, rel), af or _airfields(), AirParams())


def _kinds(res: _pipeline.Result, ident: str) -> list[str]:
    return [e["kind"] for e in res.site_events if e["subject"] == ident]


# -- a landing, silence on the ground, a take-off -------------------------------------------------
@pytest.mark.parametrize("flags", [True, False], ids=["onground-flags", "speed-from-positions"])
def test_seen_ground_stay_is_not_a_dark_gap(flags: bool) -> None:
    res = _run(*_rotation("1533ee", 0.0, 2.5 * HOUR, flags))
    assert _kinds(res, "1533ee") == ["arrival", "departure"]
    assert [e for e in res.gap_events if e["subject"] == "1533ee"] == []
    (stay,) = res.ground_stays
    assert stay["subject"] == "1533ee" and stay["airfield"] == "OSLK" and stay["site"] == "hmeimim"
    assert stay["rule"] == "bracketed"
    assert stay["reason"] == "ground stay at OSLK bracketed by arrival and departure"
    assert stay["duration_s"] == pytest.approx(2.5 * HOUR, abs=1.0)
    # recorded on both bracketing events, not dropped
    for e in res.site_events:
        gs = e["details"]["ground_stay"]
        assert gs["airfield"] == "OSLK" and gs["unheard_s"] == pytest.approx(2.5 * HOUR, abs=1.0)
        assert [u["rule"] for u in gs["unheard"]] == ["bracketed"]
    assert DV.visits(res.gap_events, _airfields(), AirParams(), {}) == []


def test_long_ground_stay_of_an_an124_bracketed() -> None:
    """154076 in the demo: 77 h on the ground unheard, between an arrival and a departure."""
    res = _run(*_rotation("154076", 0.0, 77 * HOUR))
    assert res.gap_events == [] and len(res.ground_stays) == 1
    assert res.ground_stays[0]["duration_s"] > 76 * HOUR


def test_two_silences_in_one_ground_stay() -> None:
    """Heard briefly on the ground between two silences: both belong to the one stay."""
    ident = "152ba9"
    tabs = [*_landing(ident, 0.0, True), _seg(ident, 600 + HOUR, 600 + HOUR + 120, STAND, STAND, 150, 150, True),
            *_take_off(ident, 720 + 2 * HOUR, True)]
    res = _run(*tabs)
    assert res.gap_events == []
    assert [s["rule"] for s in res.ground_stays] == ["bracketed", "bracketed"]
    arr = next(e for e in res.site_events if e["kind"] == "arrival")
    assert len(arr["details"]["ground_stay"]["unheard"]) == 2


def test_lost_and_reacquired_on_the_ground_without_movements() -> None:
    """Rule 2: only ever heard taxiing (no arrival nor departure), lost and reacquired at the
    same stand: still on the ground at the field, not dark."""
    ident = "1533f3"
    res = _run(_seg(ident, 0, 300, SOUTH_END, STAND, 150, 150, True),
               _seg(ident, 300 + 3 * HOUR, 600 + 3 * HOUR, STAND, _pt(200.0, 800.0), 150, 150, True))
    assert _kinds(res, ident) == []
    assert res.gap_events == []
    (stay,) = res.ground_stays
    assert stay["rule"] == "on-ground" and stay["airfield"] == "OSLK"
    assert stay["reason"].startswith("ground stay at OSLK: lost and reacquired on the ground")


def test_ground_stay_rule_needs_both_ends_on_the_ground_at_one_airfield() -> None:
    """Rule 2 unit check on gap rows: too high, too far apart or away from the field is no stay."""
    p = AirParams()
    af = _airfields()

    def rows(lat1: float, lon1: float, alt0: float, alt1: float) -> pa.Table:
        cols: dict[str, Any] = {c: [float("nan")] for c in G.GAP_COLUMNS if c != "id"}
        cols.update({"t0_s": [0.0], "t1_s": [3 * HOUR], "lat0": [STAND[0]], "lon0": [STAND[1]], "alt0_ft": [alt0],
                     "lat1": [lat1], "lon1": [lon1], "alt1_ft": [alt1]})
        return pa.table({"id": ["abc123"], **{k: pa.array(v, pa.float64()) for k, v in cols.items()}})

    assert G.seen_ground_stays(rows(*STAND, 150, 150), [], af, p)[0] is not None
    assert G.seen_ground_stays(rows(*STAND, 150, 640), [], af, p)[0] is not None  # 483 ft above the field
    assert G.seen_ground_stays(rows(*STAND, 150, 2000), [], af, p) == [None]  # reacquired climbing out
    assert G.seen_ground_stays(rows(*_pt(356.0, 3500.0), 150, 150), [], af, p) == [None]  # 3.5 km apart
    assert G.seen_ground_stays(rows(*_pt(90.0, 60_000.0), 150, 150), [], af, p) == [None]  # elsewhere


def test_lost_on_the_ground_reacquired_far_away_stays_dark() -> None:
    """After an arrival, lost on the ground and reacquired 100 km away in the air: it may have
    flown during the gap, so no departure brackets it and it stays a dark gap."""
    ident = "1533fa"
    far = _pt(0.0, 100_000.0)
    tabs = [*_landing(ident, 0.0, True),
            _seg(ident, 600 + 3 * HOUR, 1200 + 3 * HOUR, far, _pt(0.0, 200_000.0), 12_000, 25_000, False)]
    res = _run(*tabs)
    assert res.ground_stays == []
    (gap,) = res.gap_events
    assert gap["subject"] == ident and "ground_stay" not in res.site_events[0]["details"]


def test_arrival_and_departure_at_different_airfields_is_not_a_stay() -> None:
    """Landed at OSLK, reacquired on the ground at another field and took off from there:
    the flight between the two fields was unheard, a real dark gap."""
    ident = "1533fd"
    other = _pt(90.0, 150_000.0)  # the DECOY field
    o_stand = geo.destination(other[0], other[1], 266.0, 300.0)
    o_end = geo.destination(other[0], other[1], 176.0, 1500.0)
    tabs = [
        *_landing(ident, 0.0, True),
        _seg(ident, 600 + 3 * HOUR, 900 + 3 * HOUR, o_stand, o_end, 150, 150, True),
        _seg(ident, 910 + 3 * HOUR, 1210 + 3 * HOUR, o_end, geo.destination(other[0], other[1], 356.0, 20_000.0),
             150, 5000, False)]
    res = _run(*tabs)
    assert _kinds(res, ident) == ["arrival", "departure"]
    assert {e["details"]["airfield"] for e in res.site_events} == {"OSLK", "DECOY"}
    assert res.ground_stays == [] and len(res.gap_events) == 1


# -- the real finding survives ------------------------------------------------------------------
def test_transponder_off_approach_still_dark_gap_and_dark_visit() -> None:
    res = _run(*_an124("154073", 0.0), *_rotation("1533ee", 0.0, 2.5 * HOUR))
    assert [s["subject"] for s in res.ground_stays] == ["1533ee"]
    (gap,) = res.gap_events
    assert gap["subject"] == "154073" and not gap["details"]["landing_suspected"]
    assert gap["details"]["duration_s"] == pytest.approx(6 * HOUR, abs=20.0)
    assert gap["details"]["lost"]["alt_ft"] == pytest.approx(11_225, abs=1.0)
    assert "reacquired" in gap["summary"] and "landed (ground stay unseen)" not in gap["summary"]
    (visit,) = DV.visits(res.gap_events, _airfields(), AirParams(),
                         {"154073": {"typecode": "A124", "registration": "RA-82035"}})
    assert visit["site"] == "hmeimim" and visit["details"]["airfield"] == "OSLK"
    assert "landed at hmeimim during the 6 h 00 min gap: lost 43 km W of the site descending through 11,225 ft" \
        in visit["summary"]


def test_dark_visit_baseline_not_inflated_by_ground_stays() -> None:
    """Through ``analyze`` (site events, dark gaps, dark visits): five routine rotations and
    one transponder-off approach give one dark gap and one dark visit, and ten movements."""
    tabs: list[pa.Table] = []
    for day, ident in enumerate(["1533e1", "1533ee", "1533f3", "1533fa", "1533fd"]):
        tabs += _rotation(ident, day * 24 * HOUR, (2 + day) * HOUR)
    tabs += _an124("154073", 5 * 24 * HOUR)
    with Store(":memory:") as st:
        for t in tabs:
            st.insert("positions", t)
        ctx = base.AnalysisContext(st, {"hmeimim": SITE})
        runs = {r.analysis: r.events for r in base.run(ctx, ["air"])}
        assert runs["air.site-events"] == 10
        assert runs["air.dark-gaps"] == 1 and runs["air.dark-visits"] == 1
        (dv,) = st.rows("SELECT subject, site FROM events WHERE kind = 'dark-visit'")
        assert (dv["subject"], dv["site"]) == ("154073", "hmeimim")
        assert len(_pipeline.for_context(ctx).ground_stays) == 5
