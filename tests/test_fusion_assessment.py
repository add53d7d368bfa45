"""Rules on hand-made histories whose answer is known; revisions when late evidence arrives."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pytest

from sitewatch.errors import ConfigError
from sitewatch.fusion import assessment as A
from sitewatch.fusion import rules as R
from sitewatch.store import fusion_queries as Q
from sitewatch.store.db import Store
from test_fusion_scenario import AS_OF, Scenario, build

HEDGED = {"unlikely", "roughly even chance", "likely"}


def by_rule(items: list[A.Assessment]) -> dict[str, A.Assessment]:
    return {a.hypothesis: a for a in items}


def test_icd203_words_cover_the_scale() -> None:
    assert A.likelihood_word(0.01) == "almost no chance"
    assert A.likelihood_word(0.5) == "roughly even chance"
    assert A.likelihood_word(0.7) == "likely"
    assert A.likelihood_word(0.9) == "very likely"
    assert A.likelihood_word(0.99) == "almost certain"


def test_clear_withdrawal_pattern_is_likely_or_very_likely_with_high_confidence() -> None:
    store = Store()
    site = build(store, "withdrawal")
    res = by_rule(A.assess(store, site, R.load_all(), AS_OF))
    w = res["withdrawal"]
    assert w.likelihood in ("likely", "very likely")
    assert w.confidence == "high" and w.sources_agreeing == ["adsb", "ais", "imagery"]
    assert res["reinforcement"].probability < w.probability
    assert res["routine"].likelihood in ("unlikely", "very unlikely", "roughly even chance")
    # every sentence is footnoted to evidence rows that exist
    ids = {r["evidence_id"] for r in Q.list_evidence(store, "hmeimim")}
    for s in [w.judgement, w.confidence_sentence, *w.supporting]:
        assert s.evidence and set(s.evidence) <= ids
    kinds = {r["kind"] for r in Q.list_evidence(store, "hmeimim", ids=w.judgement.evidence)}
    assert "air.departure" in kinds
    assert any("Next useful observation" in c for c in w.change_judgement)


def test_mixed_evidence_is_hedged() -> None:
    store = Store()
    site = build(store, "mixed")
    w = by_rule(A.assess(store, site, R.load_all(), AS_OF))["withdrawal"]
    assert w.likelihood in HEDGED and w.confidence != "high"
    assert w.sources_agreeing and w.sources_against  # the disagreement is said, not hidden
    assert "the other way" in w.confidence_sentence.text


def test_quiet_history_is_routine_and_no_withdrawal() -> None:
    store = Store()
    site = build(store, "none")
    res = by_rule(A.assess(store, site, R.load_all(), AS_OF))
    assert res["routine"].likelihood in ("likely", "very likely")
    assert res["withdrawal"].likelihood in ("unlikely", "very unlikely")


def test_single_source_cannot_exceed_its_cap() -> None:
    store = Store()
    sc = Scenario()
    d = date(2024, 10, 1)
    while d < date(2024, 12, 14):  # ADS-B only: no AIS, no imagery
        sc.cover(d)
        d += timedelta(days=1)
    for n in range(8):
        sc.event("departure", date(2024, 12, 11) + timedelta(days=n % 3), "151a01", hour=n + 1, typecode="A124")
    sc.write(store)
    from test_fusion_scenario import hmeimim

    w = by_rule(A.assess(store, hmeimim(), R.load_all(), AS_OF))["withdrawal"]
    assert w.sources_agreeing == ["adsb"] and w.probability <= 0.80 + 1e-9 and w.confidence == "low"
    assert any("not observed" in m for m in w.missing)


def test_late_evidence_reissues_with_a_revision_entry() -> None:
    store = Store()
    site = build(store, "mixed")
    rules = R.load_all()
    first = by_rule(A.assess(store, site, rules, AS_OF))["withdrawal"]
    assert first.revision == 1 and first.changes == {"reason": "first issue"}
    again = by_rule(A.assess(store, site, rules, AS_OF))["withdrawal"]
    assert again.revision == 1  # nothing new: no new revision
    late = Scenario()  # AIS data about 11–12 Dec arrives late: the port emptied
    for k in range(5):
        late.event("vessel-departure", date(2024, 12, 12), f"27390000{k}", "vessel", hour=4 + k)
    late.scene(date(2024, 12, 13), {("large-vehicle", "north-park"): 90, ("plane", "apron"): 5})
    store.insert("events", pa.concat_tables([
        __import__("sitewatch.analytics.base", fromlist=["x"]).events_table(late.events, "sea.port-events")]))
    store.insert("scenes", pa.Table.from_pylist(late.scenes))
    store.insert("detections", pa.Table.from_pylist(late.detections))
    second = by_rule(A.assess(store, site, rules, AS_OF))["withdrawal"]
    assert second.revision == 2 and second.probability > first.probability
    assert second.changes is not None and second.changes["added_count"] >= 5
    assert "arrived after revision 1" in second.changes["reason"] and "sea.vessel-departure" in second.changes["reason"]
    hist = Q.assessment_revisions(store, "hmeimim", "withdrawal", AS_OF)
    assert [h["revision"] for h in hist] == [1, 2] and hist[1]["changes"]["likelihood"][0] == first.likelihood
    assert [h["revision"] for h in second.history] == [1, 2]


def test_text_rendering_footnotes_every_sentence() -> None:
    store = Store()
    site = build(store, "withdrawal")
    items = A.assess(store, site, R.load_all(), AS_OF)
    ev = {r["evidence_id"]: r for r in Q.list_evidence(store, "hmeimim")}
    text = A.render_text(items, ev)
    assert "very likely" in text or "likely" in text
    notes = [ln for ln in text.splitlines() if ln.startswith("  [")]
    assert notes and all("fx:" in n for n in notes)
    for line in text.splitlines():
        if line.startswith(("  + ", "  - ")) and "not observed" not in line:
            assert "[" in line.rsplit(")", 1)[-1], line


def test_rules_validate_with_clear_messages(tmp_path: object) -> None:
    shipped = R.shipped()
    assert set(shipped) == {"withdrawal", "reinforcement", "evacuation", "routine"}
    with pytest.raises(ConfigError, match="unknown indicator 'heavy_arivals'"):
        R.parse("name: x\ntitle: x\nstatement: s\nprior: 0.2\nindicators:\n"
                "  - {indicator: heavy_arivals, direction: up}\n", "<test>")
    with pytest.raises(ConfigError, match="direction 'sideways'"):
        R.parse("name: x\ntitle: x\nstatement: s\nprior: 0.2\nindicators:\n"
                "  - {indicator: heavy_arrivals, direction: sideways}\n", "<test>")
    with pytest.raises(ConfigError, match="line 2"):
        R.parse("name: x\n  bad: [\n", "<test>")
    with pytest.raises(ConfigError, match="prior"):
        R.parse("name: x\ntitle: x\nstatement: s\nprior: 1.5\nindicators: []\n", "<test>")


def test_effective_score_keeps_material_recent_readings_only() -> None:
    from datetime import date as _date

    from sitewatch.fusion.indicators import Series

    burst = Series("x", "x", "adsb", "sum", [], _date(2024, 12, 13), score=0.5, peak_score=4.0, trough_score=-0.5)
    assert A.effective_score(burst, "up") == 4.0  # last week's airlift still counts
    assert A.effective_score(burst, "down") == 0.5  # a -0.5 wobble is not evidence of a fall
    assert A.effective_score(burst, "steady") == 4.0
    drop = Series("y", "y", "imagery", "level", [], _date(2024, 12, 13), score=-3.0, peak_score=1.0,
                  trough_score=-3.0)
    assert A.effective_score(drop, "up") == -3.0  # an earlier +1 never masks today's fall


def test_indicators_apply_only_to_their_site_kinds() -> None:
    store = Store()
    build(store, "withdrawal")
    from dataclasses import replace

    from test_fusion_scenario import hmeimim

    port = replace(hmeimim(), kind="port")
    w = by_rule(A.assess(store, port, R.load_all(), AS_OF, issue=False))["withdrawal"]
    used = {c.indicator for c in w.contributions}
    assert "heavy_departures" not in used and "vessel_departures" in used and "vehicles" in used
    assert "adsb" not in w.sources_agreeing
