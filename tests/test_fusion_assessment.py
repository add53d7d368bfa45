"""Competing hypotheses on hand-made histories whose answer is known; the Bayes arithmetic by
hand; ACH; footnote integrity; what-ifs and revisions."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sitewatch.errors import ConfigError
from sitewatch.fusion import assessment as A
from sitewatch.fusion import footnotes as F
from sitewatch.fusion import items as IT
from sitewatch.fusion import rules as R
from sitewatch.sites import circle_site
from sitewatch.store import assessments as ASM
from sitewatch.store import evidence as EVD
from sitewatch.store.db import Store
from test_fusion_scenario import AS_OF, Scenario, baseline, build, hmeimim

SET = {"withdrawal", "reinforcement", "evacuation", "repositioning", "exercise", "routine", "other"}


def by_rule(items: list[A.Assessment]) -> dict[str, A.Assessment]:
    return {a.hypothesis: a for a in items}


def rows_of(store: Store, site: str) -> dict[str, dict[str, object]]:
    return {r["evidence_id"]: r for r in EVD.list_evidence(store, site)}


def test_icd203_words_cover_the_scale() -> None:
    assert A.likelihood_word(0.01) == "almost no chance"
    assert A.likelihood_word(0.5) == "roughly even chance"
    assert A.likelihood_word(0.7) == "likely"
    assert A.likelihood_word(0.9) == "very likely"
    assert A.likelihood_word(0.99) == "almost certain"


def test_shipped_set_is_exhaustive_and_each_item_distribution_sums_to_one() -> None:
    rules = R.load_all()
    assert set(rules) == SET
    for r in rules.values():
        for it, dist in r.expects.items():
            assert abs(sum(dist.values()) - 1.0) < 1e-9, (r.name, it)
            assert set(dist) == set(IT.ITEMS[it].states)


@pytest.mark.parametrize("pattern", ["withdrawal", "mixed", "none"])
def test_probabilities_of_one_assessment_sum_to_one(pattern: str) -> None:
    store = Store()
    site = build(store, pattern)
    items = A.assess(store, site, R.load_all(), AS_OF)
    assert {a.hypothesis for a in items} == SET
    assert math.isclose(sum(a.probability for a in items), 1.0, abs_tol=1e-9)
    assert [a.rank for a in items] == list(range(1, 8))
    assert sum(a.leading for a in items) == 1


def test_clear_withdrawal_leads_and_cites_the_dark_visit() -> None:
    store = Store()
    site = build(store, "withdrawal")
    items = A.assess(store, site, R.load_all(), AS_OF)
    res = by_rule(items)
    w = res["withdrawal"]
    assert items[0].hypothesis == "withdrawal" and w.leading
    assert w.probability > 0.5 and res["reinforcement"].probability < 0.2
    rows = rows_of(store, site.name)
    cited = [rows[e] for e in w.judgement.evidence]
    assert any(r["kind"] == "air.dark-visit" for r in cited), "the decisive dark visit is cited"
    backing = [rows[e]["kind"] for x in w.supporting for e in x.evidence]
    assert "sea.vessel-departure" in backing and "imagery.count" in backing
    # the same heavy-lift surge supports withdrawal and reinforcement alike: the ACH shows it
    ach = w.ach
    airlift = next(x for x in ach["rows"] if x["item"] == "airlift")
    assert airlift["state"] == "up"
    assert {airlift["cells"][h]["consistency"] for h in ("withdrawal", "reinforcement")} <= {"C", "CC"}
    assert airlift["cells"]["routine"]["consistency"] in ("I", "II")
    assert ach["separator"]["between"] == [items[0].hypothesis, items[1].hypothesis]


def test_quiet_history_is_routine_and_nothing_else_above_half() -> None:
    store = Store()
    site = build(store, "none")
    items = A.assess(store, site, R.load_all(), AS_OF)
    res = by_rule(items)
    assert items[0].hypothesis == "routine"
    assert all(a.probability <= 0.5 for a in items if a.hypothesis != "routine")
    assert res["withdrawal"].probability < 0.1


def test_mixed_evidence_is_hedged() -> None:
    store = Store()
    site = build(store, "mixed")
    items = A.assess(store, site, R.load_all(), AS_OF)
    assert items[0].probability < 0.8
    assert items[0].confidence in ("low", "moderate")


def _two(expect_a: dict[str, float], expect_b: dict[str, float], prior_a: float = 0.5) -> list[R.Rule]:
    def rule(name: str, prior: float, exp: dict[str, float]) -> R.Rule:
        return R.Rule(name, name, "{site}", prior, {"airlift": exp}, (), "<test>", name, False)

    return [rule("a", prior_a, expect_a), rule("b", 1 - prior_a, expect_b)]


def _obs(state: str, reliability: float, item: str = "airlift") -> IT.Observation:
    d = IT.ITEMS[item]
    return IT.Observation(item, d.label, d.sensor, state, "observed", reliability, "t", [], [])


def test_bayes_by_hand() -> None:
    site = circle_site("x", "airbase", 35.0, 36.0)
    rules = _two({"up": 0.8, "burst": 0.05, "usual": 0.1, "down": 0.05}, {"up": 0.1, "burst": 0.05, "usual": 0.75, "down": 0.1},
                 prior_a=0.2)
    t = datetime(2024, 12, 1, tzinfo=UTC)
    out = by_rule(A.judge_set(rules, site, [_obs("up", 1.0)], t, {}))
    # 0.2 × 0.8 / (0.2 × 0.8 + 0.8 × 0.1) = 0.16 / 0.24
    assert out["a"].probability == pytest.approx(0.16 / 0.24)
    # reliability 0.5: L_eff = 0.5 L + 0.5 × mean(0.8, 0.1) → a: 0.625, b: 0.275
    out = by_rule(A.judge_set(rules, site, [_obs("up", 0.5)], t, {}))
    assert out["a"].probability == pytest.approx(0.2 * 0.625 / (0.2 * 0.625 + 0.8 * 0.275))


def test_correlated_items_are_not_counted_twice() -> None:
    site = circle_site("x", "airbase", 35.0, 36.0)
    t = datetime(2024, 12, 1, tzinfo=UTC)
    hi = {"up": 0.8, "burst": 0.05, "usual": 0.05, "down": 0.1}
    lo = {"up": 0.2, "burst": 0.05, "usual": 0.65, "down": 0.1}
    r = [R.Rule("a", "a", "{site}", 0.5, {"vehicles": hi, "vehicles_reported": hi}, (), "<t>", "a", False),
         R.Rule("b", "b", "{site}", 0.5, {"vehicles": lo, "vehicles_reported": lo}, (), "<t>", "b", False)]
    one = by_rule(A.judge_set(r, site, [_obs("up", 1.0, "vehicles")], t, {}))["a"].probability
    both = by_rule(A.judge_set(r, site, [_obs("up", 1.0, "vehicles"), _obs("up", 1.0, "vehicles_reported")],
                               t, {}))["a"].probability
    independent = 0.8 * 0.8 / (0.8 * 0.8 + 0.2 * 0.2)
    assert one == pytest.approx(0.8)
    assert one < both < independent  # the imagery count and the analysts' reading of it: one group
    llr = 2 * math.log(4.0) / (1 + A.GROUP_RHO["vehicles"])
    assert both == pytest.approx(1 / (1 + math.exp(-llr)))


def test_non_diagnostic_evidence_moves_nothing() -> None:
    site = circle_site("x", "airbase", 35.0, 36.0)
    t = datetime(2024, 12, 1, tzinfo=UTC)
    same = {"up": 0.5, "burst": 0.1, "usual": 0.3, "down": 0.1}
    rules = _two(same, dict(same), prior_a=0.3)
    out = A.judge_set(rules, site, [_obs("up", 1.0)], t, {})
    assert by_rule(out)["a"].probability == pytest.approx(0.3)
    assert out[0].ach["non_diagnostic"] == ["airlift"]


def test_old_evidence_gives_insufficient_current_evidence() -> None:
    store = Store()
    site = build(store, "withdrawal")
    items = A.assess(store, site, R.load_all(), datetime(2030, 1, 1, tzinfo=UTC), issue=False)
    assert all(a.status == A.INSUFFICIENT and a.likelihood == A.INSUFFICIENT for a in items)
    priors = {r.name: r.prior_for(site.kind) for r in R.load_all().values()}
    z = sum(priors.values())
    assert {a.hypothesis: round(a.probability, 9) for a in items} == {h: round(p / z, 9) for h, p in priors.items()}
    assert "insufficient current evidence" in items[0].judgement.text and "%" in items[0].judgement.text


def test_what_if_is_not_issued_and_never_replaces_the_current_assessment() -> None:
    store = Store()
    site = build(store, "withdrawal")
    cur = A.assess(store, site, R.load_all(), AS_OF)
    n = store.count("assessments")
    assert n == 7
    what_if = A.assess(store, site, R.load_all(), datetime(1990, 1, 1, tzinfo=UTC), issue=False)
    assert store.count("assessments") == n and all(a.what_if for a in what_if)
    shown = ASM.latest_assessments(store, site.name)
    assert {r["hypothesis"] for r in shown} == SET
    assert shown[0]["hypothesis"] == cur[0].hypothesis
    assert math.isclose(sum(r["probability"] for r in shown), 1.0, abs_tol=1e-9)


def test_late_evidence_reissues_every_hypothesis_with_a_revision_entry() -> None:
    store = Store()
    site = build(store, "withdrawal")
    first = by_rule(A.assess(store, site, R.load_all(), AS_OF))
    again = by_rule(A.assess(store, site, R.load_all(), AS_OF))
    assert again["withdrawal"].revision == first["withdrawal"].revision == 1
    sc = Scenario()
    sc.event("departure", date(2024, 12, 13), "151a09", hour=22, typecode="A124")
    sc.write(store)
    late = by_rule(A.assess(store, site, R.load_all(), AS_OF))
    assert all(a.revision == 2 for a in late.values())
    assert "new evidence row" in str((late["routine"].changes or {}).get("reason"))


def test_footnotes_back_every_sentence_and_the_checker_catches_tampering() -> None:
    for pattern in ("withdrawal", "mixed", "none"):
        store = Store()
        site = build(store, pattern)
        items = A.assess(store, site, R.load_all(), AS_OF)
        rows = rows_of(store, site.name)
        assert F.check(items, rows, [site.label]) == [], pattern
    a = items[0]
    j = a.as_json()
    s = next(x for x in j["supporting"] + j["against"] + j["neutral"] if x["claims"] and x["evidence"])
    bad = dict(s, claims=[dict(c, value=c["value"] + 1) for c in s["claims"]])
    assert F.check_sentence(bad["text"], bad["evidence"], bad["claims"], rows)
    out_of_window = [i for i, r in rows.items() if r["t_start"] < AS_OF - timedelta(days=60)][:1]
    assert F.check_sentence(s["text"], s["evidence"] + out_of_window, s["claims"], rows)


def test_rules_validate_with_clear_messages(tmp_path: object) -> None:
    ok = ("name: t\ntitle: T\nstatement: x {site}\nprior: 0.1\nexpects:\n"
          "  airlift: {up: 0.5, burst: 0.1, usual: 0.3, down: 0.1}\n")
    r = R.parse(ok, "<t>")
    assert r.likelihood("airlift", "up") == pytest.approx(0.5) and r.likelihood("vehicles", "up") == pytest.approx(1 / 4)
    with pytest.raises(ConfigError, match="sum to 1"):
        R.parse(ok.replace("0.1}", "0.3}"), "<t>")
    with pytest.raises(ConfigError, match="unknown evidence item 'nope'"):
        R.parse(ok.replace("airlift", "nope"), "<t>")
    with pytest.raises(ConfigError, match="states must be exactly up, burst, usual, down"):
        R.parse(ok.replace("usual", "steady"), "<t>")
    # a workspace's own file written before the `burst` state existed: the error says what it is
    before = ok.replace("{up: 0.5, burst: 0.1, usual: 0.3, down: 0.1}", "{up: 0.6, usual: 0.3, down: 0.1}")
    with pytest.raises(ConfigError, match=r"missing: burst\); burst is a state added since .* over by now"):
        R.parse(before, "<t>")
    with pytest.raises(ConfigError, match="old format"):
        R.parse("name: t\ntitle: T\nstatement: x\nprior: 0.1\nindicators: []\n", "<t>")
    with pytest.raises(ConfigError, match="line"):
        R.parse("name: [\n", "<t>")


def test_items_apply_only_to_their_site_kinds() -> None:
    assert "airlift" in [d.name for d in IT.applicable("airbase")]
    assert "airlift" not in [d.name for d in IT.applicable("port")]
    assert "ships_in_port" in [d.name for d in IT.applicable("port")]
    assert "navy_nearby" in [d.name for d in IT.applicable("airbase")]


def test_text_shows_as_of_set_and_matrix() -> None:
    store = Store()
    site = build(store, "withdrawal")
    items = A.assess(store, site, R.load_all(), AS_OF)
    text = A.render_text(items, rows_of(store, site.name))
    assert "assessment as of 2024-12-14T00:00:00Z" in text
    assert "probabilities sum to 100%" in text and "ACH matrix" in text and "Bottom line:" in text
    assert "Evidence:" in text and "[1]" in text


def test_ongoing_loitering_counts_as_holding_offshore() -> None:
    navy, rows = _navy_state("holding")
    assert navy.state == "holding", navy.text  # began 12 days ago, still under way
    assert "3 holding offshore" in navy.text
    assert F.check_sentence(navy.text, navy.evidence, [c.as_json() for c in navy.claims], rows) == []


def _ais_from(d: date) -> Scenario:
    """A scenario whose AIS saw the area every day from ``d`` to the day before the as-of."""
    sc = Scenario()
    while d < AS_OF.date():
        sc.cover(d, "ais")
        d += timedelta(days=1)
    return sc


def _navy_state(then: str, ais_from: date = date(2024, 11, 20), harbour_craft: int = 0,
                warships: int = 3, patrols: int = 0) -> tuple[IT.Observation, dict[str, dict[str, object]]]:
    """Three warships leave on 2 Dec (AIS from 20 Nov), then hold offshore until the as-of
    (``holding``), are back in port four days later and still there (``back``), hold offshore and
    are back two days before the as-of (``sortie``), or are gone. ``harbour_craft`` government
    boats leave every morning and are back by noon, from the first AIS day on; the first warship
    also sailed on ``patrols`` days before the window (from 21 Nov, every other day)."""
    store = Store()
    sc = _ais_from(ais_from)
    for j in range(patrols):
        sc.event("vessel-departure", date(2024, 11, 21) + timedelta(days=2 * j), "273110", "vessel", hour=6,
                 government=True)
    d = ais_from
    while d < AS_OF.date():
        for b in range(harbour_craft):
            sc.event("vessel-departure", d, f"36699940{b}", "vessel", hour=7 + b, government=True)
            sc.event("port-visit", d, f"36699940{b}", "vessel", hour=11 + b,
                     t_end=datetime.combine(d, time(23), UTC), government=True)
        d += timedelta(days=1)
    for k in range(warships):
        sc.event("vessel-departure", date(2024, 12, 2), f"27311{k}", "vessel", hour=5 + k, government=True)
        if then == "holding":
            sc.event("loitering", date(2024, 12, 2), f"27311{k}", "vessel", hour=9,
                     t_end=datetime(2024, 12, 13, 23, tzinfo=UTC), government=True)
        elif then == "back":
            sc.event("port-visit", date(2024, 12, 6), f"27311{k}", "vessel", hour=9 + k,
                     t_end=datetime(2024, 12, 13, 23, tzinfo=UTC), government=True)
        elif then == "sortie":  # held offshore ten days, back in port two days before the as-of
            sc.event("loitering", date(2024, 12, 2), f"27311{k}", "vessel", hour=9,
                     t_end=datetime(2024, 12, 12, 8, tzinfo=UTC), government=True)
            sc.event("port-visit", date(2024, 12, 12), f"27311{k}", "vessel", hour=10 + k,
                     t_end=datetime(2024, 12, 13, 23, tzinfo=UTC), government=True)
    sc.write(store)
    site = build(Store(), "none")
    from sitewatch.fusion import evidence as EV

    EV.refresh(store, [site])
    _, rows, _series, obs = A.items_for(store, site, AS_OF)
    return next(o for o in obs if o.item == "navy_offshore"), {r["evidence_id"]: r for r in rows}


def test_warships_that_sail_and_come_back_are_told_from_warships_that_left() -> None:
    back, rows = _navy_state("back")
    assert back.state == "returned", back.text  # sailed together and came back: an exercise's signature
    assert "3 of them came back" in back.text
    assert F.check_sentence(back.text, back.evidence, [c.as_json() for c in back.claims], rows) == []
    # held offshore, then back in port within the last days: a sortie, not a hold (it once read
    # "holding offshore ... still under way" about ships moored in the port)
    sortie, rows = _navy_state("sortie")
    assert sortie.state == "returned", sortie.text
    assert "holding offshore from" not in sortie.text and "3 of them came back" in sortie.text
    assert F.check_sentence(sortie.text, sortie.evidence, [c.as_json() for c in sortie.claims], rows) == []
    gone, rows = _navy_state("gone")
    assert gone.state == "left", gone.text
    assert F.check_sentence(gone.text, gone.evidence, [c.as_json() for c in gone.claims], rows) == []
    exercise, withdrawal = R.load_all()["exercise"], R.load_all()["withdrawal"]
    assert exercise.likelihood("navy_offshore", "returned") > 3 * withdrawal.likelihood("navy_offshore", "returned")


def test_a_busy_harbour_s_own_government_craft_are_not_warships_sailing() -> None:
    """Real New York harbour AIS (1–7 Dec 2020) once read "4 warships sailed together and came
    back", exercise 0.65: harbour craft on their daily beat. A vessel that left on at least one
    in seven of the observed days before the window is one of the port's regulars."""
    craft, rows = _navy_state("back", harbour_craft=2, warships=0)
    assert craft.state == "none", craft.text
    assert "not counted: the port's regular government craft (baseline: 2 that left" in craft.text
    assert "0 warships other than its regular craft left the port" in craft.text
    assert F.check_sentence(craft.text, craft.evidence, [c.as_json() for c in craft.claims], rows) == []
    # a squadron sailing from the same busy port is still read, the craft beside it not counted
    both, rows = _navy_state("back", harbour_craft=2)
    assert both.state == "returned", both.text
    assert "3 warships/government vessels left the port" in both.text and "MMSI 366999400" not in both.text
    assert F.check_sentence(both.text, both.evidence, [c.as_json() for c in both.claims], rows) == []
    # with no history before the window, who is a regular is unknown: not read, said why
    young, _ = _navy_state("back", ais_from=date(2024, 12, 1), harbour_craft=2)
    assert young.state is None and "not known yet (baseline: none yet, 0 earlier observed days" in young.text
    # a warship that sailed on patrol on 2 of the 10 observed days before the window is no regular:
    # the squadron still counts it; on 3 of them it is one of the port's craft, and the 2 left
    # are still a squadron that sailed and came back
    patrol, rows = _navy_state("back", patrols=2)
    assert patrol.state == "returned" and "3 warships/government vessels left" in patrol.text, patrol.text
    regular, rows = _navy_state("back", patrols=3)
    assert regular.state == "returned" and "2 warships/government vessels left" in regular.text, regular.text
    assert "(baseline: 1 that left in the window" in regular.text
    assert F.check_sentence(regular.text, regular.evidence, [c.as_json() for c in regular.claims], rows) == []


def _flow(moves: list[tuple[str, str, date, int]]) -> tuple[IT.Observation, dict[str, dict[str, object]]]:
    store = Store()
    sc = Scenario()
    baseline(sc)
    for d in (date(2024, 12, 10), date(2024, 12, 11), date(2024, 12, 12), date(2024, 12, 13)):
        sc.cover(d, "adsb")
    for kind, icao, d, hour in moves:
        sc.event(kind, d, icao, hour=hour, typecode="SU30")
    sc.write(store)
    import pyarrow as pa

    store.insert("aircraft", pa.Table.from_pylist(
        [{"icao24": icao, "typecode": "SU30", "military": True} for icao in sorted({m[1] for m in moves})]))
    site = hmeimim()
    from sitewatch.fusion import evidence as EV

    EV.refresh(store, [site])
    _, rows, _series, obs = A.items_for(store, site, AS_OF)
    return next(o for o in obs if o.item == "aircraft_flow"), {r["evidence_id"]: r for r in rows}


def test_direction_of_movement_separates_aircraft_arriving_to_stay_from_sorties() -> None:
    fighters = [f"15af{k:02d}" for k in range(5)]
    came, rows = _flow([("arrival", f, date(2024, 12, 10 + k % 3), 9 + k) for k, f in enumerate(fighters)])
    assert came.state == "in", came.text
    # five newcomers and the baseline's fighter, whose ADS-B only ever shows it landing
    assert "6 military aircraft (other than heavy transports) arrived" in came.text
    assert F.check_sentence(came.text, came.evidence, [c.as_json() for c in came.claims], rows) == []
    went, rows = _flow([("departure", f, date(2024, 12, 11), 9 + k) for k, f in enumerate(fighters)])
    assert went.state == "out", went.text
    assert F.check_sentence(went.text, went.evidence, [c.as_json() for c in went.claims], rows) == []
    sorties, rows = _flow([m for k, f in enumerate(fighters) for m in (("departure", f, date(2024, 12, 11), 8 + k),
                                                                       ("arrival", f, date(2024, 12, 11), 12 + k))])
    assert sorties.state == "balanced", sorties.text
    assert F.check_sentence(sorties.text, sorties.evidence, [c.as_json() for c in sorties.claims], rows) == []
    rules = R.load_all()
    assert rules["reinforcement"].likelihood("aircraft_flow", "in") > 3 * rules["withdrawal"].likelihood(
        "aircraft_flow", "in")
    assert rules["withdrawal"].likelihood("aircraft_flow", "out") > 3 * rules["reinforcement"].likelihood(
        "aircraft_flow", "out")


def test_a_burst_that_just_ended_reads_burst_not_down() -> None:
    """Heavy airlift at 0–1 a day for two months, 3–5 a day for ten days, then three quiet
    days: the level shift down at the end is the burst ending, not airlift below its usual
    rate (the item reads the burst, and says it is over)."""
    from sitewatch.fusion import indicators as IND
    from sitewatch.simulate import calibration as C

    site = circle_site("calib", "airbase", 35.0, 36.0)
    g = C._Gen(np.random.default_rng(3), site.name)
    as_of = C.AS_OF
    last = (as_of - timedelta(microseconds=1)).date()
    days = [last - timedelta(days=i) for i in range(74, -1, -1)]
    cov = []
    for n, d in enumerate(days):
        cov.append({"source": "adsb", "day": d, "n": 1000, "n_ids": 20})
        g.add("air.coverage", C._t(d, 0), "adsb", 1000.0, {"day": str(d)}, C._t(d, 24), 1.0)
        k = (3 + n % 3) if len(days) - 13 <= n < len(days) - 3 else n % 2
        for j in range(k):
            g.add("air.departure", C._t(d, 6 + j), "adsb", 1.0, {"heavy": True, "military": True}, subject=f"h{n}{j}")
    series = IND.compute_from_rows(g.rows, cov, site, as_of)
    obs = {o.item: o for o in IT.observe(site, series, g.rows, cov, as_of)}
    assert obs["airlift"].state == "burst", obs["airlift"].text
    assert "over by now" in obs["airlift"].text


def test_people_flown_out_are_told_from_equipment_flown_out() -> None:
    """Airliner and VIP airframes (Tu-154, Il-62 …) are counted as passenger flights, apart
    from the heavy airlift and the rest of the military flying: an evacuation moves people."""
    from sitewatch.fusion import evidence as EV

    attrs = EV.event_attrs({"details": {"typecode": "T154"}, "ac_military": True})
    assert attrs["passenger"] is True and not attrs.get("heavy")
    assert "passenger" not in EV.event_attrs({"details": {"typecode": "IL76"}})
    store = Store()
    sc = Scenario()
    baseline(sc)
    for n, d in enumerate((date(2024, 12, 10), date(2024, 12, 11), date(2024, 12, 12), date(2024, 12, 13))):
        sc.cover(d, "adsb")
        for k in range(2):
            sc.event("arrival", d, f"15ab{n}{k}", hour=8 + k, typecode="T154")
            sc.event("departure", d, f"15ab{n}{k}", hour=12 + k, typecode="T154")
    sc.write(store)
    site = hmeimim()
    EV.refresh(store, [site])
    _, rows, _series, obs = A.items_for(store, site, AS_OF)
    by = {o.item: o for o in obs}
    lift = by["passenger_lift"]
    assert lift.state == "up", lift.text
    assert F.check_sentence(lift.text, lift.evidence, [c.as_json() for c in lift.claims],
                            {r["evidence_id"]: r for r in rows}) == []
    # the airliners are neither heavy airlift nor other military flying, nor aircraft arriving to stay
    assert by["airlift"].state == "usual" and by["military_flying"].state != "up"
    assert by["aircraft_flow"].state == "balanced"
    rules = R.load_all()
    assert rules["evacuation"].likelihood("passenger_lift", "up") > 2 * rules["withdrawal"].likelihood(
        "passenger_lift", "up")


def test_readings_of_one_thing_that_disagree_are_two_witnesses() -> None:
    """The imagery count saw more vehicles, the analysts' count of the same parks did not:
    the agreeing pair shares its weight, the disagreeing pair does not re-count anything."""
    site = circle_site("x", "airbase", 35.0, 36.0)
    t = datetime(2024, 12, 1, tzinfo=UTC)
    hi = {"up": 0.8, "burst": 0.05, "usual": 0.05, "down": 0.1}
    lo = {"up": 0.2, "burst": 0.05, "usual": 0.65, "down": 0.1}
    r = [R.Rule("a", "a", "{site}", 0.5, {"vehicles": hi, "vehicles_reported": hi}, (), "<t>", "a", False),
         R.Rule("b", "b", "{site}", 0.5, {"vehicles": lo, "vehicles_reported": lo}, (), "<t>", "b", False)]
    split = by_rule(A.judge_set(r, site, [_obs("up", 1.0, "vehicles"), _obs("usual", 1.0, "vehicles_reported")],
                                t, {}))["a"].probability
    # each in full: 0.8/0.2 × 0.05/0.65, no shared weight
    lr = (0.8 / 0.2) * (0.05 / 0.65)
    assert split == pytest.approx(lr / (1 + lr))


def test_an_old_workspace_rule_is_named_with_the_way_to_update_it(tmp_path: Path, capsys: Any) -> None:
    """A workspace's own hypothesis file from before a state existed: commands fail with one
    line naming the file and the state, and `rules show NAME --shipped` prints the new file."""
    from sitewatch.cli import main

    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    shipped = (Path(R.__file__).parent / "rules" / "routine.yaml").read_text(encoding="utf-8")
    old = shipped.replace("burst: ", "x_burst: ", 1)
    line = next(x for x in old.splitlines() if "x_burst" in x)
    item, dist = line.strip().split(": ", 1)
    vals = dict(kv.split(": ") for kv in dist.strip("{}").split(", "))
    vals["up"] = str(round(float(vals["up"]) + float(vals.pop("x_burst")), 3))
    old = old.replace(line, f"  {item}: {{{', '.join(f'{k}: {v}' for k, v in vals.items())}}}")
    (ws / "rules").mkdir(exist_ok=True)
    (ws / "rules" / "routine.yaml").write_text(old, encoding="utf-8")
    capsys.readouterr()
    assert main(["-w", str(ws), "rules", "list"]) != 0
    err = capsys.readouterr().err
    assert "routine.yaml" in err and "missing: burst" in err and "rules show routine --shipped" in err
    assert main(["-w", str(ws), "rules", "show", "routine", "--shipped"]) == 0
    assert capsys.readouterr().out == shipped


def test_ships_calling_to_load_read_as_sealift_not_as_warships_leaving() -> None:
    """Three government ships come in on 11–12 Dec and sail a day later (a sealift); one
    warship sails on 1 Dec and is back on 5 Dec (a sortie, not a call); one has been in port
    since AIS first saw it (no arrival). Of the last two weeks' calls only the three count, and
    their departures are not warships leaving the port."""
    store = Store()
    sc = _ais_from(date(2024, 10, 20))
    sc.event("port-visit", date(2024, 10, 20), "273100001", "vessel", hour=0,
             t_end=datetime(2024, 12, 13, 23, tzinfo=UTC), government=True, arrival_observed=False)
    # a warship back from a long deployment on 25 Oct (a call: it had not left in the data) and
    # in port since: its departure on 10 Dec is a warship leaving, not a sealift ship sailing
    sc.event("port-visit", date(2024, 10, 25), "273100003", "vessel", hour=8,
             t_end=datetime(2024, 12, 10, 6, tzinfo=UTC), government=True)
    sc.event("vessel-departure", date(2024, 12, 10), "273100003", "vessel", hour=6, government=True)
    sc.event("vessel-departure", date(2024, 12, 1), "273100002", "vessel", hour=6, government=True)
    sc.event("port-visit", date(2024, 12, 5), "273100002", "vessel", hour=9,
             t_end=datetime(2024, 12, 13, 23, tzinfo=UTC), government=True)
    for k, (day, hour) in enumerate(((11, 4), (11, 15), (12, 7))):
        mmsi = f"27320000{k}"
        sc.event("port-visit", date(2024, 12, day), mmsi, "vessel", hour=hour,
                 t_end=datetime(2024, 12, day + 1, hour, tzinfo=UTC), government=True)
        sc.event("vessel-departure", date(2024, 12, day + 1), mmsi, "vessel", hour=hour, government=True)
    sc.write(store)
    site = build(Store(), "none")
    from sitewatch.fusion import evidence as EV

    EV.refresh(store, [site])
    _, rows, series, obs = A.items_for(store, site, AS_OF)
    by_id = {r["evidence_id"]: r for r in rows}
    total = {s.name: sum(x.value or 0.0 for x in s.days) for s in series}
    # every departure here is a naval one: the merchant-traffic count the departures item reads has none
    assert total["vessel_departures"] == 5 and total["other_departures"] == 0
    lift = next(o for o in obs if o.item == "sealift")
    assert lift.state == "up", lift.text
    assert "3 from 2024-12-11" in lift.text, lift.text
    cited = [by_id[e] for e in lift.evidence]
    assert sorted(str(r["subject"]) for r in cited) == ["273200000", "273200001", "273200002"]
    from sitewatch.fusion import indicators as IND

    assert sorted(str(r["subject"]) for r in IND.naval_calls(rows)) == [
        "273100003", "273200000", "273200001", "273200002"]
    assert F.check_sentence(lift.text, lift.evidence, [c.as_json() for c in lift.claims], by_id) == []
    navy = next(o for o in obs if o.item == "navy_offshore")
    # two warships left (one came back); the three callers sailing again are not warships leaving
    assert navy.state == "returned", navy.text
    assert sorted({str(by_id[e]["subject"]) for e in navy.evidence if by_id[e]["kind"] == "sea.vessel-departure"}) \
        == ["273100002", "273100003"]
    withdrawal, reposition = R.load_all()["withdrawal"], R.load_all()["repositioning"]
    assert withdrawal.likelihood("sealift", "up") > 3 * reposition.likelihood("sealift", "up")


def _port_rows(charters: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """60 days of AIS at a port, a ferry (ship type 60) sailing every 4 days, and ``charters``
    passenger ships that never called before sailing on the last two days."""
    rows: list[dict[str, Any]] = []
    coverage: list[dict[str, Any]] = []
    days = [date(2024, 12, 13) - timedelta(days=i) for i in range(59, -1, -1)]

    def add(kind: str, t: datetime, subject: str | None, ref: dict[str, Any], t_end: datetime | None = None) -> None:
        rows.append({"evidence_id": f"t:{len(rows):05d}", "site": "p", "t_start": t, "t_end": t_end or t, "kind": kind,
                     "value": 1.0, "text": f"{kind} of {subject}", "sensor": "ais", "provider": "test",
                     "file_sha256": None, "ref": ref, "confidence": 0.9, "simulated": False, "subject": subject,
                     "lat": 35.0, "lon": 36.0})

    for d in days:
        t0 = datetime(d.year, d.month, d.day, tzinfo=UTC)
        coverage.append({"source": "ais", "day": d, "n": 1000, "n_ids": 20})
        add("sea.coverage", t0, None, {"day": str(d)}, t0 + timedelta(hours=24))
    for i, d in enumerate(days):
        if i % 4 == 1:
            t = datetime(d.year, d.month, d.day, 18, tzinfo=UTC)
            add("sea.port-visit", t - timedelta(hours=8), "271000001", {"ship_type": 60}, t)
            add("sea.vessel-departure", t, "271000001", {"ship_type": 60})
    for k in range(charters):
        t = datetime(2024, 12, 12 + k % 2, 9 + k, tzinfo=UTC)
        add("sea.port-visit", t - timedelta(hours=20), f"27160000{k}", {"ship_type": 60}, t)
        add("sea.vessel-departure", t, f"27160000{k}", {"ship_type": 60})
    return rows, coverage


def test_passenger_ships_not_on_the_schedule_read_as_people_sailing() -> None:
    """Two chartered passenger ships sailing beside a ferry on its schedule: the departure
    count hardly moves, but ships that had not sailed from the port in 30 days do."""
    from sitewatch.fusion import indicators as IND

    site = circle_site("p", "port", 35.0, 36.0)
    for charters, want in ((0, "usual"), (2, "up")):
        rows, coverage = _port_rows(charters)
        series = IND.compute_from_rows(rows, coverage, site, AS_OF)
        news = next(s for s in series if s.name == "passenger_newcomers")
        assert sum(x.value or 0.0 for x in news.days) == charters  # the ferry's first sailing is not a newcomer
        obs = next(o for o in IT.observe(site, series, rows, coverage, AS_OF) if o.item == "passenger_sailings")
        assert obs.state == want, obs.text
        if charters:
            assert obs.series == "passenger_newcomers" and f"{charters} from" in obs.text, obs.text
            by_id = {r["evidence_id"]: r for r in rows}
            assert sorted(str(by_id[e]["subject"]) for e in obs.evidence) == ["271600000", "271600001"]
            assert F.check_sentence(obs.text, obs.evidence, [c.as_json() for c in obs.claims], by_id) == []


def test_a_usual_reading_far_from_its_baseline_says_why_it_is_not_a_change() -> None:
    """0 ships on the latest scene against 5, 4 and 3 before is within the spread of so few
    scenes: the item reads "as usual", and its sentence says why (without a number that no
    claim states: the footnote checker still passes)."""
    from sitewatch.fusion import indicators as IND

    site = circle_site("p", "port", 35.0, 36.0)
    for latest, qualified in ((0.0, True), (4.0, False)):
        rows: list[dict[str, Any]] = []
        for k, (day, n) in enumerate(((1, 5.0), (4, 4.0), (7, 3.0), (12, latest))):
            t = datetime(2024, 12, day, 8, tzinfo=UTC)
            rows.append({"evidence_id": f"e{k}", "site": "p", "t_start": t, "t_end": t, "kind": "imagery.count",
                         "value": n, "text": f"{n:g} ships", "sensor": "imagery", "provider": "test",
                         "file_sha256": None, "ref": {"class": "ship", "zone": None, "scene_id": f"s{k}",
                                                      "resolvable": True},
                         "confidence": 0.9, "simulated": True, "subject": f"s{k}", "lat": 0.0, "lon": 0.0})
        series = IND.compute_from_rows(rows, [], site, AS_OF)
        obs = next(o for o in IT.observe(site, series, rows, [], AS_OF) if o.item == "ships_imaged")
        assert obs.state == "usual", obs.text
        assert ("within the spread of the earlier observed days" in obs.text) == qualified, obs.text
        if qualified:
            assert "the fall from the baseline" in obs.text
        by_id = {r["evidence_id"]: r for r in rows}
        assert F.check_sentence(obs.text, obs.evidence, [c.as_json() for c in obs.claims], by_id) == []


def test_the_separating_observation_says_what_it_already_reads_and_what_to_seek_next() -> None:
    """The item that best separates the top two may already be observed: the sentence says what
    it reads and which of the two that favours (by the files' likelihoods), rather than ask for
    it as if unseen, and names the most separating item not observed yet."""
    up_a = {"up": 0.8, "burst": 0.05, "usual": 0.1, "down": 0.05}
    usual_b = {"up": 0.05, "burst": 0.05, "usual": 0.85, "down": 0.05}
    rules = [R.Rule(n, n, "{site}", 0.5, {"airlift": e, "vehicles": v}, (), "<test>", n, False)
             for n, e, v in (("a", up_a, {"up": 0.35, "burst": 0.1, "usual": 0.45, "down": 0.1}),
                             ("b", usual_b, {"up": 0.2, "burst": 0.1, "usual": 0.6, "down": 0.1}))]
    veh = IT.Observation("vehicles", IT.ITEMS["vehicles"].label, "imagery", None, "not observed", 0.0, "t", [], [])
    sep = A._separator(rules, "a", "b", [_obs("up", 1.0), veh])
    assert sep["item"] == "airlift" and sep["observed"] and sep["observed_favours"] == "a"
    assert "It is already observed: an airlift surge, which favours a." in sep["text"]
    assert sep["next"]["item"] == "vehicles" and not sep["next"]["observed"]
    assert sep["text"].endswith(sep["next"]["text"]) and "Still to observe" in sep["next"]["text"]
    # read "as usual", the same item favours the other hypothesis; nothing unseen: no "next"
    sep = A._separator(rules, "a", "b", [_obs("usual", 1.0)])
    assert sep["observed_favours"] == "b" and sep["text"].endswith("airlift at its usual rate, which favours b.")
    assert "next" not in sep
    # a state both predict alike favours neither
    sep = A._separator(rules, "a", "b", [_obs("burst", 1.0)])
    assert sep["observed_favours"] is None and "which favours neither a nor b" in sep["text"]
    # not observed at all: asked for, as before
    air = IT.Observation("airlift", IT.ITEMS["airlift"].label, "adsb", None, "not observed", 0.0, "t", [], [])
    sep = A._separator(rules, "a", "b", [air])
    assert not sep["observed"] and "already observed" not in sep["text"] and "next" not in sep


@pytest.mark.parametrize("pattern", ["withdrawal", "mixed"])
def test_for_and_against_follow_the_ach_matrix(pattern: str) -> None:
    """An item listed for a hypothesis is one the ACH matrix calls consistent with it (C/CC),
    against it inconsistent (I/II), neither neutral (N): the lists and the matrix never disagree."""
    store = Store()
    site = build(store, pattern)
    items = A.assess(store, site, R.load_all(), AS_OF)
    for a in items:
        col = a.ach["column"]
        item_of = {c.sentence: c.indicator for c in a.contributions}
        for listed, grades in ((a.supporting, {"C", "CC"}), (a.against, {"I", "II"}), (a.neutral, {"N"})):
            for s in listed:
                assert col[item_of[s.text]]["consistency"] in grades, (a.hypothesis, s.text)
        assert len(a.supporting) + len(a.against) + len(a.neutral) == len(a.contributions)


def test_the_text_matrix_shortens_a_label_but_never_its_state() -> None:
    row = A._cell_label("warships leaving and holding offshore", "holding", 46)
    assert len(row) == 46 and row.endswith("… (holding)")
    assert A._cell_label("heavy airlift", "up", 46) == "heavy airlift (up)"
    assert len(A._cell_label("x" * 60, "y" * 45, 46)) == 46  # a state too long to keep: cut, marked
